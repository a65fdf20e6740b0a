// Random-weight checkpoints (models/random_checkpoint.h): N(0, 0.02) weights that depend only
// on (seed, dataset, index) however they are streamed, identity norms, zero biases, a file the
// validating reader accepts, and `paligemma convert --random`.
#include "models/random_checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "models/checkpoint_reader.h"
#include "tests/checkpoint_test_util.h"

namespace pg {
namespace {

using testing::TempDir;
using testing::TinyConfig;

TEST(RandomCheckpoint, FillRules) {
  const ModelConfig c = TinyConfig("paligemma2");
  const std::vector<WeightSpec> t = WeightTable(c);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "llm/layers/pre_attention_norm/scale")), RandomFill::kZero);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "llm/layers/post_ffw_norm/scale")), RandomFill::kZero);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "llm/final_norm/scale")), RandomFill::kZero);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "img/Transformer/encoderblock/LayerNorm_0/scale")), RandomFill::kOne);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "img/Transformer/encoder_norm/scale")), RandomFill::kOne);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "img/Transformer/encoder_norm/bias")), RandomFill::kZero);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "img/head/bias")), RandomFill::kZero);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "img/head/kernel")), RandomFill::kNormal);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "llm/embedder/input_embedding")), RandomFill::kNormal);
  EXPECT_EQ(RandomFillFor(FindWeight(t, "llm/layers/mlp/gating_einsum")), RandomFill::kNormal);
}

TEST(RandomCheckpoint, ValuesAreNormalWithTheGivenStddevAndDependOnSeedAndName) {
  const int n = 200000;
  double sum = 0, sq = 0;
  int differ_seed = 0, differ_name = 0;
  for (int i = 0; i < n; ++i) {
    const float v = RandomWeightValue(7, "w", i, 0.02f);
    ASSERT_TRUE(std::isfinite(v));
    EXPECT_EQ(v, RandomWeightValue(7, "w", i, 0.02f));  // a pure function
    sum += v;
    sq += static_cast<double>(v) * v;
    differ_seed += v != RandomWeightValue(8, "w", i, 0.02f);
    differ_name += v != RandomWeightValue(7, "w2", i, 0.02f);
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 5 * 0.02 / std::sqrt(n));
  EXPECT_NEAR(sd, 0.02, 0.02 * 0.01);
  EXPECT_GT(differ_seed, n * 0.99);
  EXPECT_GT(differ_name, n * 0.99);
}

// Every dataset read back equals the pure function of its index, whatever the slab size
// (small slabs split stacked tensors across several axes).
void ExpectFileMatchesValues(const std::string& path, uint64_t seed, DType dtype) {
  CheckpointReader r(path);
  EXPECT_EQ(r.dtype(), dtype);
  for (const WeightSpec& s : r.table()) {
    const std::vector<float> got = r.ReadF32(s.name);
    ASSERT_EQ(static_cast<int64_t>(got.size()), s.num_elements) << s.name;
    const RandomFill fill = RandomFillFor(s);
    for (int64_t i = 0; i < s.num_elements; ++i) {
      float want = fill == RandomFill::kOne ? 1.f : fill == RandomFill::kZero ? 0.f
                                                                              : RandomWeightValue(seed, s.name, i, 0.02f);
      if (dtype == DType::kBF16) want = RoundToBf16(want);
      ASSERT_EQ(got[i], want) << s.name << " element " << i;
    }
  }
}

TEST(RandomCheckpoint, WritesAValidFileIndependentOfSlabSize) {
  TempDir dir;
  const ModelConfig c = TinyConfig("paligemma2");
  for (int64_t slab : {int64_t{1} << 22, int64_t{100}, int64_t{7}, int64_t{1}}) {
    RandomCheckpointOptions o;
    o.seed = 42;
    o.slab_elements = slab;
    const std::string path = dir.File("r" + std::to_string(slab) + ".h5");
    int64_t total = 0;
    for (const WeightSpec& s : WeightTable(c)) total += s.num_elements;
    EXPECT_EQ(WriteRandomCheckpoint(c, path, o), total);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    EXPECT_EQ(CheckpointReader(path).config().ToJsonText(), c.ToJsonText());
    ExpectFileMatchesValues(path, 42, DType::kF32);
  }
}

TEST(RandomCheckpoint, Bf16StoresRoundedValues) {
  TempDir dir;
  RandomCheckpointOptions o;
  o.seed = 3;
  o.dtype = DType::kBF16;
  o.slab_elements = 50;
  WriteRandomCheckpoint(TinyConfig(), dir.File("b.h5"), o);
  ExpectFileMatchesValues(dir.File("b.h5"), 3, DType::kBF16);
}

TEST(RandomCheckpoint, RejectsBadOptions) {
  TempDir dir;
  RandomCheckpointOptions o;
  o.stddev = 0;
  EXPECT_THROW(WriteRandomCheckpoint(TinyConfig(), dir.File("x.h5"), o), Error);
  o.stddev = 0.02f;
  EXPECT_THROW(WriteRandomCheckpoint(TinyConfig(), "", o), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.File("x.h5")));
}

TEST(RandomCheckpoint, ConvertCommandWritesTheSameWeights) {
  TempDir dir;
  const std::string bin = std::string(PG_BINARY_DIR) + "/paligemma";
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << "the paligemma binary is not built at " << bin;
  const std::string cfg = std::string(PG_SOURCE_DIR) + "/configs/tiny.json";
  const std::string out = dir.File("t.h5");
  const std::string cmd = bin + " convert --random --config " + cfg + " --output " + out +
                          " --dtype bf16 --seed 5 > " + dir.File("log") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ExpectFileMatchesValues(out, 5, DType::kBF16);
  // --random refuses a source.
  const std::string bad = bin + " convert --random --from npz --input x.npz --config " + cfg + " --output " +
                          dir.File("u.h5") + " > " + dir.File("log2") + " 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

}  // namespace
}  // namespace pg
