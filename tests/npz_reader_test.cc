// The npz reader on archives built by the test writer: dtypes, npy versions, stored/deflated
// members, zip64, streaming in pieces, and clear errors for every malformed input.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "tests/error_matchers.h"
#include "io/npz_reader.h"
#include "runtime/check.h"
#include "tests/checkpoint_test_util.h"
#include "tests/source_writers_test_util.h"

namespace pg {
namespace {

using testing::NpyBytes;
using testing::TempDir;
using testing::ZipBytes;
using testing::ZipMember;

using testing::ErrorOf;

std::string F32Bytes(const std::vector<float>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }
std::string U16Bytes(const std::vector<uint16_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 2);
}

TEST(NpzReader, ReadsAllDtypesVersionsAndCompressions) {
  TempDir dir;
  std::vector<float> f(3000);
  for (size_t i = 0; i < f.size(); ++i) f[i] = 0.25f * static_cast<float>(i) - 7.f;
  const std::vector<uint16_t> half = {0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, smallest subnormal, 65504
  const std::vector<uint16_t> bf = {0x3f80, 0xc040, 0x7f80};            // 1, -3, inf
  for (bool zip64 : {false, true}) {
    for (bool deflate : {false, true}) {
      const std::string path = dir.File("a.npz");
      testing::WriteFileBytes(path, ZipBytes({{"params/w.npy", NpyBytes("<f4", {30, 100}, F32Bytes(f), 1), deflate},
                                              {"h.npy", NpyBytes("<f2", {2, 2}, U16Bytes(half), 2), deflate},
                                              {"b.npy", NpyBytes("|V2", {3}, U16Bytes(bf), 3), deflate},
                                              {"s.npy", NpyBytes("<f4", {}, F32Bytes({5.f})), deflate}},
                                             zip64));
      NpzReader npz(path);
      ASSERT_EQ(npz.members().size(), 4u);
      const NpzMember* w = npz.Find("params/w");
      ASSERT_TRUE(w);
      EXPECT_EQ(w->shape, (std::vector<int64_t>{30, 100}));
      EXPECT_EQ(w->dtype, NpyDType::kF32);
      EXPECT_EQ(npz.ReadAsF32(*w), f);
      // Streaming in uneven pieces gives the same values.
      auto s = npz.Open(*w);
      std::vector<float> pieces(f.size());
      s->Read(pieces.data(), 7);
      s->Read(pieces.data() + 7, 2000);
      s->Read(pieces.data() + 2007, 993);
      s->Finish();
      EXPECT_EQ(pieces, f);
      EXPECT_EQ(npz.ReadAsF32(*npz.Find("h")), (std::vector<float>{1.f, -2.f, 5.9604645e-8f, 65504.f}));
      const std::vector<float> b = npz.ReadAsF32(*npz.Find("b"));
      EXPECT_EQ(b[0], 1.f);
      EXPECT_EQ(b[1], -3.f);
      EXPECT_TRUE(std::isinf(b[2]));
      EXPECT_EQ(npz.Find("s")->shape.size(), 0u);
      EXPECT_EQ(npz.ReadAsF32(*npz.Find("s")), std::vector<float>{5.f});
      EXPECT_EQ(npz.Find("nope"), nullptr);
    }
  }
}

TEST(NpzReader, MalformedHeadersAreNamed) {
  TempDir dir;
  const std::string p = dir.File("bad.npz");
  auto open_one = [&](const std::string& member_bytes) {
    testing::WriteFileBytes(p, ZipBytes({{"params/x.npy", member_bytes}}, false));
    NpzReader npz(p);
  };
  const std::string data = F32Bytes({1.f, 2.f});
  EXPECT_ERROR_HAS(open_one(NpyBytes("<f8", {1}, std::string(8, '\0'))),
                   "npz '" + p + "': member 'params/x.npy': dtype '<f8' is not supported");
  EXPECT_ERROR_HAS(open_one(NpyBytes(">f4", {2}, data)), "dtype '>f4' is not supported");
  EXPECT_ERROR_HAS(open_one(NpyBytes("<f4", {2}, data, 1, "True")), "Fortran-order arrays are not supported");
  EXPECT_ERROR_HAS(open_one(NpyBytes("<f4", {3}, data)), "holds 8 data bytes; shape [3] of float32 '<f4' needs 12");
  EXPECT_ERROR_HAS(open_one("not an npy file at all"), "has no .npy magic");
  std::string garbled = NpyBytes("<f4", {2}, data);
  garbled[20] = '@';  // the quote opening the descr value
  EXPECT_ERROR_HAS(open_one(garbled), "member 'params/x.npy'");
  std::string huge = NpyBytes("<f4", {2}, data);
  huge[8] = '\xff';
  huge[9] = '\xff';  // header length beyond the member
  EXPECT_ERROR_HAS(open_one(huge), "exceeds the member");
  std::string v9 = NpyBytes("<f4", {2}, data);
  v9[6] = 9;
  EXPECT_ERROR_HAS(open_one(v9), ".npy format version 9 is not supported");
  testing::WriteFileBytes(p, ZipBytes({{"params/readme.txt", "hello"}}, false));
  EXPECT_ERROR_HAS(NpzReader npz(p), "member 'params/readme.txt' is not a .npy array");
  EXPECT_ERROR_HAS(open_one(NpyBytes("<f4", {99999999999, 99999999999}, data)), "member 'params/x.npy'");
}

TEST(NpzReader, TruncatedAndCorruptArchivesAreNamed) {
  TempDir dir;
  const std::string p = dir.File("t.npz");
  std::vector<float> f(5000);
  uint32_t x = 1;
  for (float& v : f) v = static_cast<float>((x = x * 1664525u + 1013904223u) >> 8);  // incompressible-ish
  for (bool deflate : {false, true}) {
    const std::string good = ZipBytes({{"a.npy", NpyBytes("<f4", {5000}, F32Bytes(f)), deflate}}, false);
    // Cut anywhere: the directory at the end is gone.
    for (size_t cut : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 1}) {
      testing::WriteFileBytes(p, good.substr(0, cut));
      EXPECT_ERROR_HAS(NpzReader npz(p), "zip '" + p + "'");
    }
    // The directory intact but the member's data shortened (sizes in the directory claim more).
    const std::string name_at = "a.npy";
    std::string body_cut = good;
    const size_t data_start = 30 + name_at.size();
    body_cut.erase(data_start + 200, 1000);  // shifts the directory: offsets now point wrong
    testing::WriteFileBytes(p, body_cut);
    EXPECT_ERROR_HAS(NpzReader npz(p), "zip '" + p + "'");
  }
  // A deflated member whose compressed bytes are corrupted: an inflate or CRC error when read.
  std::string bad = ZipBytes({{"a.npy", NpyBytes("<f4", {5000}, F32Bytes(f)), true}}, false);
  for (size_t i = 30 + 5 + 40; i < 30 + 5 + 60; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  testing::WriteFileBytes(p, bad);
  const std::string msg = ErrorOf([&] {
    NpzReader npz(p);
    npz.ReadAsF32(npz.members()[0]);
  });
  EXPECT_NE(msg.find("zip '" + p + "': member 'a.npy'"), std::string::npos) << msg;
  // A directory entry claiming more data than the file holds.
  std::string big = ZipBytes({{"a.npy", NpyBytes("<f4", {4}, F32Bytes({1, 2, 3, 4}))}}, false);
  const size_t cd = big.find("PK\x01\x02");
  ASSERT_NE(cd, std::string::npos);
  for (int k : {20, 24}) big.replace(cd + k, 4, std::string("\x00\x00\x01\x00", 4));  // 65536 bytes
  testing::WriteFileBytes(p, big);
  EXPECT_ERROR_HAS(NpzReader npz(p), "member 'a.npy' is truncated (its data ends at byte");
  testing::WriteFileBytes(p, "PK\x05\x06 this is not really a zip archive, just its signature.....");
  EXPECT_ERROR_HAS(NpzReader npz(p), "zip '" + p + "'");
  EXPECT_ERROR_HAS(NpzReader npz(dir.File("absent.npz")), "cannot open");
}

TEST(NpzReader, ReadingPastTheEndOrTooLittleIsAnError) {
  TempDir dir;
  const std::string p = dir.File("s.npz");
  testing::WriteFileBytes(p, ZipBytes({{"a.npy", NpyBytes("<f4", {4}, F32Bytes({1, 2, 3, 4}))}}, false));
  NpzReader npz(p);
  auto s = npz.Open(npz.members()[0]);
  std::vector<float> buf(8);
  EXPECT_ERROR_HAS(s->Read(buf.data(), 5), "read of 5 elements with 4 left");
  s->Read(buf.data(), 3);
  EXPECT_ERROR_HAS(s->Finish(), "1 elements left unread");
}

}  // namespace
}  // namespace pg
