// The safetensors reader: F32/F16/BF16 values, row ranges, sharded index, and clear errors
// for malformed headers, unknown dtypes, offsets beyond the file and index mismatches.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <functional>

#include "tests/error_matchers.h"
#include "io/safetensors_reader.h"
#include "runtime/check.h"
#include "tests/checkpoint_test_util.h"
#include "tests/source_writers_test_util.h"

namespace pg {
namespace {

using testing::PutU64;
using testing::SafetensorsBytes;
using testing::StTensor;
using testing::TempDir;

using testing::ErrorOf;

std::string F32Bytes(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

std::vector<StTensor> Sample() {
  return {{"a", "F32", {2, 3}, F32Bytes({1, 2, 3, 4, 5, 6})},
          {"h", "F16", {2}, std::string("\x00\x3c\x00\xc0", 4)},   // 1, -2
          {"b", "BF16", {3}, std::string("\x80\x3f\x40\xc0\x80\x7f", 6)}};  // 1, -3, inf
}

TEST(SafetensorsReader, ReadsDtypesAndRanges) {
  TempDir dir;
  testing::WriteFileBytes(dir.File("m.safetensors"), SafetensorsBytes(Sample()));
  SafetensorsReader st(dir.File("m.safetensors"));
  ASSERT_EQ(st.tensors().size(), 3u);
  EXPECT_EQ(st.Find("a")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(st.ReadAsF32("a"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(st.ReadAsF32("h"), (std::vector<float>{1, -2}));
  const std::vector<float> b = st.ReadAsF32("b");
  EXPECT_EQ(b[0], 1.f);
  EXPECT_EQ(b[1], -3.f);
  EXPECT_TRUE(std::isinf(b[2]));
  std::vector<float> row(3);
  st.ReadRangeAsF32("a", 3, 3, row.data());
  EXPECT_EQ(row, (std::vector<float>{4, 5, 6}));
  EXPECT_ERROR_HAS(st.ReadRangeAsF32("a", 4, 3, row.data()), "tensor 'a': element range [4, +3) outside its 6");
  EXPECT_ERROR_HAS(st.ReadAsF32("zz"), "no tensor 'zz'");
  // A directory with model.safetensors works too.
  testing::WriteFileBytes(dir.File("model.safetensors"), SafetensorsBytes(Sample()));
  EXPECT_EQ(SafetensorsReader(dir.path()).tensors().size(), 3u);
}

TEST(SafetensorsReader, ShardedIndex) {
  TempDir dir;
  auto s = Sample();
  testing::WriteFileBytes(dir.File("s1.safetensors"), SafetensorsBytes({s[0]}));
  testing::WriteFileBytes(dir.File("s2.safetensors"), SafetensorsBytes({s[1], s[2]}));
  auto write_index = [&](const std::string& map) {
    std::ofstream(dir.File("model.safetensors.index.json")) << R"({"metadata": {}, "weight_map": )" << map << "}";
  };
  write_index(R"({"a": "s1.safetensors", "h": "s2.safetensors", "b": "s2.safetensors"})");
  SafetensorsReader st(dir.path());
  EXPECT_EQ(st.ReadAsF32("a"), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(st.ReadAsF32("h"), (std::vector<float>{1, -2}));
  write_index(R"({"a": "s1.safetensors", "h": "s1.safetensors", "b": "s2.safetensors"})");
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.path()), "tensor 'h' is in");
  write_index(R"({"a": "s1.safetensors", "b": "s2.safetensors"})");
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.path()), "tensor 'h' in '" + dir.File("s2.safetensors") +
                                                        "' is not listed in the index");
  write_index(R"({"a": "s1.safetensors", "h": "s2.safetensors", "b": "s2.safetensors", "x": "s3.safetensors"})");
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.path()), "s3.safetensors");
  write_index(R"({"a": "../s1.safetensors"})");
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.path()), "outside the checkpoint directory");
  write_index("[1, 2");
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.path()), "not valid JSON");
}

TEST(SafetensorsReader, MalformedFilesAreNamed) {
  TempDir dir;
  const std::string p = dir.File("bad.safetensors");
  const std::string good = SafetensorsBytes(Sample());
  // Truncated: the last tensor's data lies beyond the end.
  testing::WriteFileBytes(p, good.substr(0, good.size() - 2));
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "safetensors '" + p + "': tensor 'b': data [");
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "lies beyond the end of the file");
  testing::WriteFileBytes(p, good.substr(0, 5));
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "too small for a safetensors file");
  testing::WriteFileBytes(p, good.substr(0, 40));
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "exceeds the file");
  // Bad JSON header.
  std::string bad;
  PutU64(bad, 8);
  testing::WriteFileBytes(p, bad + "{\"a\": [}");
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "header is not valid JSON");
  // Unknown dtype.
  testing::WriteFileBytes(p, SafetensorsBytes({{"i", "I64", {1}, std::string(8, '\0')}}));
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "tensor 'i' has dtype I64; only F32, F16 and BF16 are supported");
  // Offsets inconsistent with shape x dtype.
  testing::WriteFileBytes(p, SafetensorsBytes({{"a", "F32", {3}, std::string(8, '\0')}}));
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "data_offsets span 8 bytes; shape [3] of F32 needs 12");
  // Malformed entries.
  std::string h = R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})";
  bad.clear();
  PutU64(bad, h.size());
  testing::WriteFileBytes(p, bad + h + "0000");
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "tensor 'a': bad shape");
  h = R"({"a": {"dtype": "F32", "shape": [1]}})";
  bad.clear();
  PutU64(bad, h.size());
  testing::WriteFileBytes(p, bad + h + "0000");
  EXPECT_ERROR_HAS(SafetensorsReader r(p), "tensor 'a': malformed header entry");
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.File("absent.safetensors")), "cannot open");
  mkdir(dir.File("empty").c_str(), 0755);
  EXPECT_ERROR_HAS(SafetensorsReader r(dir.File("empty")), "holds neither model.safetensors.index.json nor");
}

}  // namespace
}  // namespace pg
