// HDF5 checkpoint writer/reader: f32 and bf16 round trips, hyperslab reads, chunk layout,
// and the validator's rejections (missing / extra / mis-shaped / mistyped datasets,
// truncated and foreign files, external links, non-finite values).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "tests/error_matchers.h"
#include "models/checkpoint_reader.h"
#include "models/checkpoint_writer.h"
#include "io/hdf5_util.h"
#include "tests/checkpoint_test_util.h"
#include "tests/source_writers_test_util.h"

namespace pg {
namespace {

using testing::TempDir;

// Writes `w` (values) as a checkpoint; stacked datasets layer by layer with WriteSlab.
void WriteWeights(const std::string& path, const ModelConfig& c, DType dtype, const testing::TestWeights& w) {
  CheckpointWriter out(path, c, dtype);
  for (const WeightSpec& s : out.table()) {
    const std::vector<float>& v = w.at(s.name).values;
    if (!s.stacked) {
      out.Write(s.name, v.data());
      continue;
    }
    const int64_t per_layer = s.num_elements / s.shape[0];
    for (int64_t l = 0; l < s.shape[0]; ++l) {
      std::vector<int64_t> start(s.shape.size(), 0), count = s.shape;
      start[0] = l;
      count[0] = 1;
      out.WriteSlab(s.name, start, count, v.data() + l * per_layer);
    }
  }
  out.Finish();
}

using testing::ErrorOf;

// A valid tiny f32 checkpoint to break in the validator tests.
struct Fixture {
  TempDir dir;
  ModelConfig c = testing::TinyConfig();
  testing::TestWeights w = testing::RandomWeights(c, 7, {testing::Store::kF32});
  std::string path = dir.File("tiny.h5");
  Fixture() { WriteWeights(path, c, DType::kF32, w); }
};

// Opens the checkpoint read-write with the raw HDF5 API to damage it.
void Edit(const std::string& path, const std::function<void(hid_t)>& fn) {
  h5::SilenceErrors();
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  fn(f);
  H5Fclose(f);
}

void ReplaceDataset(hid_t f, const std::string& name, hid_t type, const std::vector<hsize_t>& dims) {
  ASSERT_GE(H5Ldelete(f, name.c_str(), H5P_DEFAULT), 0);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t ds = H5Dcreate2(f, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  H5Dclose(ds);
  H5Sclose(space);
}

TEST(Checkpoint, F32RoundTripIsExactAndKeepsConfig) {
  Fixture fx;
  CheckpointReader r(fx.path);
  EXPECT_EQ(r.dtype(), DType::kF32);
  EXPECT_EQ(r.config().ToJson(), fx.c.ToJson());
  for (const WeightSpec& s : r.table()) {
    const std::vector<float> got = r.ReadF32(s.name);
    ASSERT_EQ(got.size(), fx.w.at(s.name).values.size());
    EXPECT_EQ(std::memcmp(got.data(), fx.w.at(s.name).values.data(), got.size() * 4), 0) << s.name;
  }
}

TEST(Checkpoint, SameWeightsGiveByteIdenticalFiles) {
  Fixture fx;
  const std::string again = fx.dir.File("again.h5");
  sleep(1);  // object timestamps, if any were stored, would now differ
  WriteWeights(again, fx.c, DType::kF32, fx.w);
  const std::string a = testing::ReadFileBytes(fx.path), b = testing::ReadFileBytes(again);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_TRUE(a == b) << "checkpoints of the same weights differ";
}

TEST(Checkpoint, Bf16RoundsToNearestEven) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig("paligemma2");
  testing::TestWeights w = testing::RandomWeights(c, 11, {testing::Store::kF32});
  // Ties and edge cases in the final norm: 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7
  // (rounds down to even); 1 + 3*2^-8 halfway between 1 + 2^-7 and 1 + 2^-6 (rounds up to even).
  std::vector<float>& fin = w.at("llm/final_norm/scale").values;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> special = {1.f + 1.f / 256, 1.f + 3.f / 256, -(1.f + 1.f / 256), 0.f, -0.f, inf,
                                     std::numeric_limits<float>::max()};
  std::copy(special.begin(), special.end(), fin.begin());
  WriteWeights(dir.File("b.h5"), c, DType::kBF16, w);
  CheckpointReader r(dir.File("b.h5"));
  EXPECT_EQ(r.dtype(), DType::kBF16);
  for (const WeightSpec& s : r.table()) {
    const std::vector<float> got = r.ReadF32(s.name);
    const std::vector<float>& want = w.at(s.name).values;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(F32ToBf16(got[i]), F32ToBf16(RoundToBf16(want[i]))) << s.name << "[" << i << "]";
  }
  const std::vector<float> f = r.ReadF32("llm/final_norm/scale");
  EXPECT_EQ(f[0], 1.f);
  EXPECT_EQ(f[1], 1.f + 4.f / 256);
  EXPECT_EQ(f[2], -1.f);
  EXPECT_TRUE(std::signbit(f[4]));
  EXPECT_EQ(f[5], inf);
  EXPECT_EQ(f[6], inf);  // above the largest bf16: rounds to infinity
}

TEST(Checkpoint, HyperslabReadEqualsSlicingTheFullRead) {
  for (DType dt : {DType::kF32, DType::kBF16}) {
    TempDir dir;
    const ModelConfig c = testing::TinyConfig("paligemma2");
    WriteWeights(dir.File("c.h5"), c, dt, testing::RandomWeights(c, 3, {testing::Store::kF32}));
    CheckpointReader r(dir.File("c.h5"));
    for (const WeightSpec& s : r.table()) {
      const std::vector<float> full = r.ReadF32(s.name);
      for (int tp : {1, 2, 4}) {
        if (s.shard_axis >= 0 && !s.replicate_if_indivisible && s.shape[s.shard_axis] % tp) continue;
        for (int rank = 0; rank < tp; ++rank) {
          const Slab slab = ShardSlab(s, rank, tp, c.name);
          const std::vector<float> part = r.ReadF32(s.name, slab);
          const std::vector<uint16_t> raw = r.ReadBf16(s.name, slab);  // stored words / rounded f32
          ASSERT_EQ(raw.size(), part.size());
          for (size_t i = 0; i < raw.size(); ++i) ASSERT_EQ(raw[i], F32ToBf16(part[i])) << s.name << " " << i;
          // Walk the slab in C order and compare with the full tensor.
          std::vector<int64_t> idx(s.shape.size(), 0);
          for (size_t i = 0; i < part.size(); ++i) {
            int64_t off = 0;
            for (size_t a = 0; a < s.shape.size(); ++a) off = off * s.shape[a] + slab.start[a] + idx[a];
            ASSERT_EQ(part[i], full[off]) << s.name << " tp " << tp << " rank " << rank << " element " << i;
            for (size_t a = s.shape.size(); a-- > 0;) {
              if (++idx[a] < slab.count[a]) break;
              idx[a] = 0;
            }
          }
        }
      }
    }
    const WeightSpec& q = FindWeight(r.table(), "llm/layers/attn/q_einsum/w");
    EXPECT_THROW(r.ReadF32(q.name, Slab{{0, 0, 0, 0}, {1, 5, 16, 6}}), Error);  // past the end
    EXPECT_THROW(r.ReadF32(q.name, Slab{{0, 0}, {1, 1}}), Error);              // wrong rank
  }
}

// A dimension without a useful divisor (a converted 3B embedding has 257,151 = 3 x 85,717 rows)
// gets chunks near the size limit with a partial last one, not 3-row chunks (85,717 of them made
// the 3B load take minutes in HDF5's chunk index); a shard axis that tp can split keeps dividing.
TEST(Checkpoint, ChunksOfADimensionWithoutGoodDivisorsAreNotTiny) {
  WeightSpec s;
  s.name = "llm/embedder/input_embedding";
  s.shape = {257151, 2048};
  s.shard_axis = 0;
  std::vector<int64_t> chunk = ChunkShape(s, 4);
  EXPECT_EQ(chunk[0], 1024);  // 8 MiB / (2048 x 4 bytes)
  EXPECT_EQ(chunk[1], 2048);
  s.shape = {257152, 2048};  // = 2^7 x 2009: tp slabs of 2 to 64 ranks stay whole chunks
  chunk = ChunkShape(s, 4);
  EXPECT_EQ(257152 % chunk[0], 0);
  EXPECT_EQ((257152 / 64) % chunk[0], 0);
  s.shard_axis = -1;
  s.shape = {1000003, 4};  // prime, not sharded: the cap
  chunk = ChunkShape(s, 4);
  EXPECT_EQ(chunk[0], (8 << 20) / 16);
}

TEST(Checkpoint, ChunksAlignWithTensorParallelSlabsForTheRealModels) {
  for (const char* name : {"paligemma-3b-pt-224", "paligemma2-3b-pt-896", "paligemma2-28b-pt-224"}) {
    const ModelConfig c = ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/" + name + ".json");
    for (const WeightSpec& s : WeightTable(c)) {
      for (DType dt : {DType::kF32, DType::kBF16}) {
        const std::vector<int64_t> chunk = ChunkShape(s, DTypeSize(dt));
        int64_t elems = 1;
        for (size_t a = 0; a < chunk.size(); ++a) {
          ASSERT_EQ(s.shape[a] % chunk[a], 0) << s.name;
          elems *= chunk[a];
        }
        EXPECT_LE(elems * static_cast<int64_t>(DTypeSize(dt)), 8 << 20) << name << " " << s.name;
        if (s.stacked) EXPECT_EQ(chunk[0], 1) << s.name;
        for (int tp : {1, 2, 4, 8}) {
          if (s.shard_axis >= 0 && !s.replicate_if_indivisible && s.shape[s.shard_axis] % tp) continue;
          const Slab slab = ShardSlab(s, tp - 1, tp, c.name);
          for (size_t a = 0; a < chunk.size(); ++a) {  // the slab is made of whole chunks
            EXPECT_EQ(slab.start[a] % chunk[a], 0) << name << " " << s.name << " tp " << tp;
            EXPECT_EQ(slab.count[a] % chunk[a], 0) << name << " " << s.name << " tp " << tp;
          }
        }
      }
    }
  }
}

TEST(CheckpointWriter, FinishNamesUnwrittenDatasetsAndRejectsOverlaps) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  CheckpointWriter w(dir.File("w.h5"), c, DType::kF32);
  const WeightSpec& lin = FindWeight(w.table(), "llm/layers/mlp/linear");  // [2, 24, 16]
  std::vector<float> layer(24 * 16, 1.f);
  w.WriteSlab(lin.name, {0, 0, 0}, {1, 24, 16}, layer.data());
  EXPECT_ERROR_HAS(w.WriteSlab(lin.name, {0, 8, 0}, {1, 8, 16}, layer.data()), "overlaps an earlier write");
  EXPECT_ERROR_HAS(w.WriteSlab(lin.name, {1, 0, 0}, {2, 24, 16}, layer.data()), "lies outside dataset");
  EXPECT_ERROR_HAS(w.WriteSlab("llm/nope", {0}, {1}, layer.data()), "no dataset 'llm/nope'");
  const std::string msg = ErrorOf([&] { w.Finish(); });
  EXPECT_NE(msg.find("'llm/layers/mlp/linear' (384 of 768 elements written)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'img/embedding/kernel' (0 of"), std::string::npos) << msg;
}

TEST(CheckpointReader, RejectsMissingExtraMisshapedAndMistypedDatasets) {
  {
    Fixture fx;
    Edit(fx.path, [](hid_t f) { H5Ldelete(f, "llm/final_norm/scale", H5P_DEFAULT); });
    EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "missing dataset(s) 'llm/final_norm/scale'");
  }
  {
    Fixture fx;
    Edit(fx.path, [](hid_t f) {
      const hsize_t d = 3;
      const hid_t sp = H5Screate_simple(1, &d, nullptr);
      H5Dclose(H5Dcreate2(f, "llm/extra", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      H5Sclose(sp);
    });
    EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "unexpected dataset(s) 'llm/extra'");
  }
  {
    Fixture fx;
    Edit(fx.path, [](hid_t f) { ReplaceDataset(f, "llm/layers/mlp/linear", H5T_IEEE_F32LE, {2, 16, 24}); });
    EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "checkpoint '" + fx.path +
                                                      "': dataset 'llm/layers/mlp/linear' has shape [2, 16, 24]; "
                                                      "expected [2, 24, 16]");
  }
  {
    Fixture fx;
    Edit(fx.path, [](hid_t f) { ReplaceDataset(f, "img/head/bias", H5T_STD_I8LE, {16}); });
    EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "dataset 'img/head/bias' has type 8-bit integer; expected IEEE f32");
  }
  {
    Fixture fx;  // IEEE half: 5 exponent bits
    Edit(fx.path, [](hid_t f) {
      const hid_t f16 = H5Tcopy(H5T_IEEE_F32LE);
      H5Tset_fields(f16, 15, 10, 5, 0, 10);
      H5Tset_precision(f16, 16);
      H5Tset_size(f16, 2);
      H5Tset_ebias(f16, 15);
      ReplaceDataset(f, "img/head/bias", f16, {16});
      H5Tclose(f16);
    });
    EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "has type 16-bit float (5 exponent, 10 mantissa bits");
  }
  {
    Fixture fx;  // a bf16 dataset in an f32 checkpoint
    Edit(fx.path, [](hid_t f) { ReplaceDataset(f, "img/head/bias", h5::MakeBf16Type().get(), {16}); });
    EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "dataset 'img/head/bias' has type 16-bit float (8 exponent");
  }
}

// Rewrites dataset `name` with creation properties `dcpl` (layout, chunks, filters), same values.
void RewriteDataset(hid_t f, const std::string& name, const std::vector<int64_t>& shape, hid_t dcpl,
                    const std::vector<float>& values) {
  ASSERT_GE(H5Ldelete(f, name.c_str(), H5P_DEFAULT), 0);
  const std::vector<hsize_t> dims = h5::Dims(shape);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t ds = H5Dcreate2(f, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(ds, 0);
  ASSERT_GE(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(ds);
  H5Sclose(space);
}

// Storage the engine's writer does not produce but other HDF5 tools do (h5py's unfiltered
// chunks, deflate, contiguous, compact) is valid. Found by fuzz/checkpoint_validator_fuzz
// (fuzz/corpus/checkpoint_validator/crash-unfiltered-chunks-rejected): chunks with no filter
// at all were rejected as "holds N bytes; expected N + 4 (corrupt file?)".
TEST(CheckpointReader, AcceptsUnfilteredChunkedContiguousAndCompactStorage) {
  const std::string name = "llm/layers/mlp/linear";
  for (int variant = 0; variant < 4; ++variant) {
    Fixture fx;
    const testing::TestTensor& t = fx.w.at(name);
    Edit(fx.path, [&](hid_t f) {
      const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
      const std::vector<hsize_t> chunk = {1, 5, static_cast<hsize_t>(t.shape[2])};  // partial edge chunks
      if (variant <= 1) H5Pset_chunk(dcpl, 3, chunk.data());
      if (variant == 1) H5Pset_deflate(dcpl, 4);
      if (variant == 2) H5Pset_layout(dcpl, H5D_CONTIGUOUS);
      if (variant == 3) H5Pset_layout(dcpl, H5D_COMPACT);
      RewriteDataset(f, name, t.shape, dcpl, t.values);
      H5Pclose(dcpl);
    });
    try {
      CheckpointReader r(fx.path);
      EXPECT_EQ(r.ReadF32(name), t.values) << "variant " << variant;
    } catch (const Error& e) {
      ADD_FAILURE() << "variant " << variant << ": " << e.what();
    }
  }
}

TEST(CheckpointReader, RejectsBadAttributes) {
  Fixture fx;
  Edit(fx.path, [](hid_t f) { H5Adelete(f, "format"); });
  EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "no root attribute 'format'");
  Fixture fx2;
  Edit(fx2.path, [](hid_t f) { H5Adelete(f, "config"); });
  EXPECT_ERROR_HAS(CheckpointReader r(fx2.path), "no root attribute 'config'");
}

TEST(CheckpointReader, RejectsTruncatedRandomAndForeignFiles) {
  Fixture fx;
  const std::string bytes = testing::ReadFileBytes(fx.path);
  for (size_t cut : {size_t{0}, size_t{7}, size_t{100}, size_t{2048}, bytes.size() / 3, bytes.size() / 2,
                     bytes.size() - 4096, bytes.size() - 1}) {
    const std::string p = fx.dir.File("cut.h5");
    testing::WriteFileBytes(p, bytes.substr(0, cut));
    const std::string msg = ErrorOf([&] { CheckpointReader r(p); });
    EXPECT_NE(msg.find("checkpoint '" + p + "'"), std::string::npos) << "cut at " << cut << ": " << msg;
  }
  std::string noise(100000, '\0');
  uint32_t x = 12345;
  for (char& ch : noise) ch = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
  testing::WriteFileBytes(fx.dir.File("noise.h5"), noise);
  EXPECT_ERROR_HAS(CheckpointReader r(fx.dir.File("noise.h5")), "is not an HDF5 file");
  testing::WriteFileBytes(fx.dir.File("npz.h5"),
                          testing::ZipBytes({{"a.npy", testing::NpyBytes("<f4", {1}, std::string(4, '\0'))}}, false));
  EXPECT_ERROR_HAS(CheckpointReader r(fx.dir.File("npz.h5")), "is a zip archive (a big_vision .npz?)");
  EXPECT_ERROR_HAS(CheckpointReader r(fx.dir.File("absent.h5")), "no such file");
}

TEST(CheckpointReader, RejectsExternalLinks) {
  Fixture fx;
  Fixture other;
  Edit(fx.path, [&](hid_t f) {
    H5Ldelete(f, "llm/final_norm/scale", H5P_DEFAULT);
    H5Lcreate_external(other.path.c_str(), "llm/final_norm/scale", f, "llm/final_norm/scale", H5P_DEFAULT, H5P_DEFAULT);
  });
  EXPECT_ERROR_HAS(CheckpointReader r(fx.path), "'llm/final_norm/scale' (external link)");
}

TEST(CheckpointReader, RejectsIncompletelyWrittenFiles) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  const testing::TestWeights w = testing::RandomWeights(c, 4, {testing::Store::kF32});
  {
    CheckpointWriter out(dir.File("partial.h5"), c, DType::kF32);  // no Finish(): the converter died
    for (const WeightSpec& s : out.table())
      if (s.name != "llm/layers/mlp/linear") out.Write(s.name, w.at(s.name).values.data());
    const std::vector<float>& lin = w.at("llm/layers/mlp/linear").values;
    out.WriteSlab("llm/layers/mlp/linear", {0, 0, 0}, {1, 24, 16}, lin.data());  // layer 1 missing
  }
  EXPECT_ERROR_HAS(CheckpointReader r(dir.File("partial.h5")), "dataset 'llm/layers/mlp/linear'");
  EXPECT_ERROR_HAS(CheckpointReader r(dir.File("partial.h5")), "incompletely written file");
}

TEST(CheckpointReader, CorruptWeightBytesFailTheChecksum) {
  Fixture fx;
  haddr_t addr = HADDR_UNDEF;
  Edit(fx.path, [&](hid_t f) {
    const hid_t ds = H5Dopen2(f, "llm/layers/attn/q_einsum/w", H5P_DEFAULT);
    const hsize_t coord[4] = {1, 0, 0, 0};
    unsigned mask = 0;
    hsize_t size = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(ds, coord, &mask, &addr, &size), 0);
    H5Dclose(ds);
  });
  std::string bytes = testing::ReadFileBytes(fx.path);
  ASSERT_LT(addr + 10, bytes.size());
  bytes[addr + 10] ^= 0x04;
  testing::WriteFileBytes(fx.path, bytes);
  CheckpointReader r(fx.path);  // metadata intact: opens
  EXPECT_NO_THROW(r.ReadF32("llm/layers/attn/q_einsum/w", Slab{{0, 0, 0, 0}, {1, 4, 16, 6}}));
  EXPECT_ERROR_HAS(r.ReadF32("llm/layers/attn/q_einsum/w"), "dataset 'llm/layers/attn/q_einsum/w': read failed");
}

// Random bit flips in the metadata at the start of the file: every variant must load or
// throw pg::Error naming the file; none may crash HDF5 (a corrupted layout message or chunk
// index used to segfault inside H5Dread before the storage checks).
TEST(CheckpointReader, BitFlippedFilesNeverCrash) {
  Fixture fx;
  const std::string bytes = testing::ReadFileBytes(fx.path);
  uint32_t x = 2;
  auto next = [&] { return (x = x * 1664525u + 1013904223u) >> 8; };
  int errors = 0;
  for (int it = 0; it < 300; ++it) {
    std::string bad = bytes;
    const size_t region = it % 3 == 0 ? bytes.size() : 8192;
    for (int k = 0, n = 1 + next() % 8; k < n; ++k) bad[next() % region] ^= static_cast<char>(1 << (next() % 8));
    const std::string p = fx.dir.File("flip.h5");
    testing::WriteFileBytes(p, bad);
    try {
      CheckpointReader r(p);
      for (const WeightSpec& s : r.table()) r.ReadF32(s.name);
    } catch (const Error& e) {
      ++errors;
      ASSERT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(CheckpointReader, CheckFiniteNamesDatasetAndIndex) {
  TempDir dir;
  const ModelConfig c = testing::TinyConfig();
  testing::TestWeights w = testing::RandomWeights(c, 5, {testing::Store::kF32});
  w.at("llm/layers/mlp/linear").values[1 * 24 * 16 + 3 * 16 + 5] = std::nanf("");
  WriteWeights(dir.File("nan.h5"), c, DType::kBF16, w);
  CheckpointReader r(dir.File("nan.h5"));
  EXPECT_NO_THROW(r.ReadF32("llm/layers/mlp/linear"));  // off by default
  r.set_check_finite(true);
  EXPECT_ERROR_HAS(r.ReadF32("llm/layers/mlp/linear"), "dataset 'llm/layers/mlp/linear' holds a non-finite value");
  EXPECT_ERROR_HAS(r.ReadF32("llm/layers/mlp/linear"), "at index [1, 3, 5]");
  EXPECT_ERROR_HAS(r.ReadBf16("llm/layers/mlp/linear", WholeSlab(FindWeight(r.table(), "llm/layers/mlp/linear"))),
                   "at index [1, 3, 5]");
  EXPECT_NO_THROW(r.ReadF32("llm/layers/mlp/linear", Slab{{0, 0, 0}, {1, 24, 16}}));
}

}  // namespace
}  // namespace pg
