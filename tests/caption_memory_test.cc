// caption --batch: the memory estimate made before anything is allocated, and the refusal
// (caption_job/memory_estimate.h). Issue 15 item 1: --batch 100000 on the demo model grew to
// 23.8 GB and was OOM-killed instead of being refused or capped.
#include <gtest/gtest.h>

#include <string>

#include "caption_job/memory_estimate.h"
#include "models/model_config.h"
#include "runtime/check.h"

namespace pg {
namespace {

ModelConfig Paligemma3b() {
  return ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/paligemma-3b-pt-224.json");
}

TEST(CaptionMemory, KvCacheFollowsTheFormula) {
  const ModelConfig c = Paligemma3b();
  const RankShapes r{c.text.num_heads, c.text.num_kv_heads, c.text.mlp_dim, c.text.vocab_size};
  const CaptionMemoryEstimate e = EstimateCaptionMemory(c, r, 1024, 40, 0);
  EXPECT_EQ(e.capacity, c.max_seq_len);
  EXPECT_EQ(e.kv_cache, int64_t{2} * c.text.depth * 1024 * c.max_seq_len * c.text.num_kv_heads * c.text.head_dim * 4);
  EXPECT_GT(e.decoder_workspace, 0);
  EXPECT_GT(e.vit_workspace, 0);
  EXPECT_EQ(e.prefetched_images, 0);
  EXPECT_EQ(e.total(), e.kv_cache + e.decoder_workspace + e.vit_workspace);
}

TEST(CaptionMemory, SlotsNeverExceedTheImages) {
  EXPECT_EQ(CaptionSlots(100000, 3), 3);
  EXPECT_EQ(CaptionSlots(16, 100), 16);
  EXPECT_EQ(CaptionSlots(16, 0), 1);
}

TEST(CaptionMemory, RefusalNamesBatchTheEstimateAndWhatFits) {
  const ModelConfig c = Paligemma3b();
  const RankShapes r{c.text.num_heads, c.text.num_kv_heads, c.text.mlp_dim, c.text.vocab_size};
  const CaptionMemoryEstimate e = EstimateCaptionMemory(c, r, 100000, 40, 0);
  const int64_t avail = int64_t{8} << 30;
  try {
    CheckCaptionMemoryFits(e, avail, 100000, c, r, 40, 0);
    FAIL() << "--batch 100000 of the 3B model fitted in 8 GiB";
  } catch (const Error& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find("--batch 100000: 100000 KV-cache slots need an estimated"), std::string::npos) << m;
    EXPECT_NE(m.find("use --batch "), std::string::npos) << m;
  }
  CheckCaptionMemoryFits(e, -1, 100000, c, r, 40, 0);  // unknown: no check
  const CaptionMemoryEstimate small = EstimateCaptionMemory(c, r, 4, 40, 8);
  CheckCaptionMemoryFits(small, avail, 4, c, r, 40, 8);
  EXPECT_EQ(FormatBytes(int64_t{3} << 29), "1.50 GiB");
}

}  // namespace
}  // namespace pg
