// The declarative weight table: names and shapes for the real configs (MODEL_FACTS 2 and 4),
// HF sources, placements, tensor-parallel hyperslabs, the "split if divisible, else
// replicate" KV rule, per-rank totals with the ViT on the leader only, and errors.
#include <gtest/gtest.h>

#include <map>

#include "models/model_config.h"
#include "models/weight_table.h"
#include "runtime/check.h"

namespace pg {
namespace {

ModelConfig Cfg(const std::string& name) {
  return ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/" + name + ".json");
}

std::map<std::string, std::vector<int64_t>> Shapes(const ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> m;
  for (const WeightSpec& s : WeightTable(c)) {
    EXPECT_FALSE(m.count(s.name)) << "duplicate " << s.name;
    m[s.name] = s.shape;
  }
  return m;
}

TEST(WeightTable, PaliGemma3bShapesMatchTheKaggleNpz) {
  // Every key and shape of the real paligemma-3b-pt-224.npz (MODEL_FACTS section 2).
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"img/embedding/kernel", {14, 14, 3, 1152}},
      {"img/embedding/bias", {1152}},
      {"img/pos_embedding", {1, 256, 1152}},
      {"img/Transformer/encoderblock/LayerNorm_0/scale", {27, 1152}},
      {"img/Transformer/encoderblock/LayerNorm_0/bias", {27, 1152}},
      {"img/Transformer/encoderblock/LayerNorm_1/scale", {27, 1152}},
      {"img/Transformer/encoderblock/LayerNorm_1/bias", {27, 1152}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/query/kernel", {27, 1152, 16, 72}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/key/kernel", {27, 1152, 16, 72}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/value/kernel", {27, 1152, 16, 72}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/query/bias", {27, 16, 72}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/key/bias", {27, 16, 72}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/value/bias", {27, 16, 72}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/out/kernel", {27, 16, 72, 1152}},
      {"img/Transformer/encoderblock/MultiHeadDotProductAttention_0/out/bias", {27, 1152}},
      {"img/Transformer/encoderblock/MlpBlock_0/Dense_0/kernel", {27, 1152, 4304}},
      {"img/Transformer/encoderblock/MlpBlock_0/Dense_0/bias", {27, 4304}},
      {"img/Transformer/encoderblock/MlpBlock_0/Dense_1/kernel", {27, 4304, 1152}},
      {"img/Transformer/encoderblock/MlpBlock_0/Dense_1/bias", {27, 1152}},
      {"img/Transformer/encoder_norm/scale", {1152}},
      {"img/Transformer/encoder_norm/bias", {1152}},
      {"img/head/kernel", {1152, 2048}},
      {"img/head/bias", {2048}},
      {"llm/embedder/input_embedding", {257152, 2048}},
      {"llm/layers/attn/q_einsum/w", {18, 8, 2048, 256}},
      {"llm/layers/attn/kv_einsum/w", {18, 2, 1, 2048, 256}},
      {"llm/layers/attn/attn_vec_einsum/w", {18, 8, 256, 2048}},
      {"llm/layers/mlp/gating_einsum", {18, 2, 2048, 16384}},
      {"llm/layers/mlp/linear", {18, 16384, 2048}},
      {"llm/layers/pre_attention_norm/scale", {18, 2048}},
      {"llm/layers/pre_ffw_norm/scale", {18, 2048}},
      {"llm/final_norm/scale", {2048}},
  };
  EXPECT_EQ(Shapes(Cfg("paligemma-3b-pt-224")), expected);
  int64_t total = 0;
  for (const WeightSpec& s : WeightTable(Cfg("paligemma-3b-pt-224"))) total += s.num_elements;
  EXPECT_EQ(total, 2923335408);  // ~2.92 B parameters: the "3B" model
  EXPECT_EQ(Shapes(Cfg("paligemma-3b-pt-896")).at("img/pos_embedding"), (std::vector<int64_t>{1, 4096, 1152}));
}

TEST(WeightTable, PaliGemma2AddsPostNormsAndKvHeads) {
  const auto m = Shapes(Cfg("paligemma2-3b-pt-224"));
  EXPECT_EQ(m.size(), 34u);
  EXPECT_EQ(m.at("llm/layers/attn/kv_einsum/w"), (std::vector<int64_t>{26, 2, 4, 2304, 256}));
  EXPECT_EQ(m.at("img/head/kernel"), (std::vector<int64_t>{1152, 2304}));
  EXPECT_EQ(m.at("llm/layers/post_attention_norm/scale"), (std::vector<int64_t>{26, 2304}));
  EXPECT_EQ(m.at("llm/layers/post_ffw_norm/scale"), (std::vector<int64_t>{26, 2304}));
  EXPECT_EQ(Shapes(Cfg("paligemma2-28b-pt-224")).at("llm/layers/attn/q_einsum/w"),
            (std::vector<int64_t>{46, 32, 4608, 128}));
}

TEST(WeightTable, ShardSlabsSplitHeadsColumnsAndVocab) {
  const ModelConfig c = Cfg("paligemma-3b-pt-224");
  const auto t = WeightTable(c);
  const WeightSpec& q = FindWeight(t, "llm/layers/attn/q_einsum/w");
  EXPECT_EQ(ShardSlab(q, 0, 1, c.name).count, q.shape);
  Slab s = ShardSlab(q, 1, 2, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0, 4, 0, 0}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{18, 4, 2048, 256}));
  s = ShardSlab(q, 3, 4, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0, 6, 0, 0}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{18, 2, 2048, 256}));
  s = ShardSlab(FindWeight(t, "llm/layers/mlp/gating_einsum"), 2, 4, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0, 0, 0, 8192}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{18, 2, 2048, 4096}));
  s = ShardSlab(FindWeight(t, "llm/layers/mlp/linear"), 1, 2, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0, 8192, 0}));
  s = ShardSlab(FindWeight(t, "llm/embedder/input_embedding"), 3, 4, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{3 * 64288, 0}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{64288, 2048}));
  // The ViT is never split (leader-only): a rank that loads it reads it whole.
  s = ShardSlab(FindWeight(t, "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/out/kernel"), 1, 4, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{27, 16, 72, 1152}));
  // Replicated tensors: every rank reads the whole tensor.
  const WeightSpec& norm = FindWeight(t, "llm/final_norm/scale");
  s = ShardSlab(norm, 3, 4, c.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{2048}));
}

TEST(WeightTable, KvProjectionSplitsOnlyWhenDivisible) {
  const ModelConfig g1 = Cfg("paligemma-3b-pt-224");  // MQA: K = 1, replicated at every tp
  const std::vector<WeightSpec> t1 = WeightTable(g1);
  const WeightSpec& kv1 = FindWeight(t1, "llm/layers/attn/kv_einsum/w");
  for (int tp : {1, 2, 4, 8}) {
    const Slab s = ShardSlab(kv1, tp - 1, tp, g1.name);
    EXPECT_EQ(s.count, kv1.shape) << "tp " << tp;
  }
  EXPECT_EQ(EffectiveShardAxis(kv1, 2, g1.name), -1);
  const ModelConfig g2 = Cfg("paligemma2-3b-pt-224");  // K = 4
  const std::vector<WeightSpec> t2 = WeightTable(g2);
  const WeightSpec& kv4 = FindWeight(t2, "llm/layers/attn/kv_einsum/w");
  Slab s = ShardSlab(kv4, 1, 2, g2.name);
  EXPECT_EQ(s.start, (std::vector<int64_t>{0, 0, 2, 0, 0}));
  EXPECT_EQ(s.count, (std::vector<int64_t>{26, 2, 2, 2304, 256}));
  s = ShardSlab(kv4, 3, 4, g2.name);
  EXPECT_EQ(s.start[2], 3);
  EXPECT_EQ(s.count[2], 1);
  s = ShardSlab(kv4, 5, 8, g2.name);  // 4 kv heads over 8 ranks: replicated
  EXPECT_EQ(s.count, kv4.shape);
}

TEST(WeightTable, IndivisibleSplitNamesModelCountDatasetAxisAndTp) {
  const ModelConfig c = Cfg("paligemma-3b-pt-224");
  const auto t = WeightTable(c);
  try {
    ShardSlab(FindWeight(t, "llm/layers/attn/q_einsum/w"), 0, 3, c.name);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "model 'paligemma-3b-pt-224': 8 query heads (llm/layers/attn/q_einsum/w axis 1) are not divisible by tp 3");
  }
  EXPECT_THROW(ShardSlab(FindWeight(t, "llm/layers/mlp/linear"), 0, 3, c.name), Error);
  EXPECT_THROW(PerRankElements(t, 3, c.name), Error);
  EXPECT_THROW(ShardSlab(FindWeight(t, "llm/final_norm/scale"), 4, 4, c.name), Error);  // rank out of range
  EXPECT_THROW(ShardSlab(FindWeight(t, "llm/final_norm/scale"), 0, 0, c.name), Error);
  try {
    FindWeight(t, "llm/nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'llm/nope'"), std::string::npos);
  }
}

// Expected counts written out from the PaliGemma 3B numbers (MODEL_FACTS 2): ViT So400m/14
// (27 layers, width 1152, MLP 4304, 16x16 patches of 14x14x3), projector 1152 -> 2048, Gemma 2B
// (18 layers, width 2048, 8 query heads and 1 kv head of 256, MLP 16384, vocab 257152).
constexpr int64_t kVitLayer = 4 * 1152                 // LayerNorm_0/1 scale + bias
                              + 4 * 1152 * 1152 + 4 * 1152  // q, k, v, out kernels and biases
                              + 2 * 1152 * 4304 + 4304 + 1152;  // Dense_0/1 kernels and biases
constexpr int64_t kVitAndProjector = 14 * 14 * 3 * 1152 + 1152  // patch embedding
                                     + 256 * 1152                // position embedding
                                     + 27 * kVitLayer + 2 * 1152  // layers, encoder_norm
                                     + 1152 * 2048 + 2048;        // head (projector)
constexpr int64_t kTextSplit = 257152LL * 2048             // embedding (vocabulary rows)
                               + 18LL * 2 * 8 * 2048 * 256  // q_einsum, attn_vec_einsum (query heads)
                               + 18LL * 3 * 2048 * 16384;   // gating (gate, up), linear (MLP columns)
constexpr int64_t kTextWhole = 18LL * 2 * 1 * 2048 * 256  // kv_einsum: 1 kv head, replicated
                               + 18 * 2 * 2048 + 2048;    // pre_attention/pre_ffw norms, final_norm

TEST(WeightTable, PerRankElementsPlaceViTOnTheLeaderOnly) {
  const ModelConfig c = Cfg("paligemma-3b-pt-224");
  const auto t = WeightTable(c);
  EXPECT_EQ(kVitAndProjector + kTextSplit + kTextWhole, 2923335408);
  const RankElements r1 = PerRankElements(t, 1, c.name);
  EXPECT_EQ(r1.total(), 2923335408);
  for (int tp : {2, 4, 8}) {
    const RankElements leader = PerRankElements(t, tp, c.name, /*holds_vit=*/true);
    const RankElements follower = PerRankElements(t, tp, c.name, /*holds_vit=*/false);
    EXPECT_EQ(leader.sharded, kTextSplit / tp) << "tp " << tp;
    EXPECT_EQ(leader.replicated, kTextWhole) << "tp " << tp;
    EXPECT_EQ(leader.leader_only, kVitAndProjector) << "tp " << tp;
    EXPECT_EQ(follower.sharded, kTextSplit / tp) << "tp " << tp;
    EXPECT_EQ(follower.replicated, kTextWhole) << "tp " << tp;
    EXPECT_EQ(follower.leader_only, 0) << "tp " << tp;
    EXPECT_EQ(leader.total() - follower.total(), kVitAndProjector) << "tp " << tp;
  }
  // The three-argument form is the leader's view.
  EXPECT_EQ(PerRankElements(t, 2, c.name).total(), kTextSplit / 2 + kTextWhole + kVitAndProjector);
}

TEST(WeightTable, PlacementsOfThePaliGemmaTensors) {
  const ModelConfig c = Cfg("paligemma2-3b-pt-224");
  for (const WeightSpec& s : WeightTable(c)) {
    if (s.name.rfind("img/", 0) == 0) {
      EXPECT_EQ(s.placement, Placement::kLeaderOnly) << s.name;
      EXPECT_EQ(s.shard_axis, -1) << s.name;
    } else {
      EXPECT_NE(s.placement, Placement::kLeaderOnly) << s.name;
    }
  }
  const std::vector<WeightSpec> t = WeightTable(c);
  const std::map<std::string, std::pair<Placement, int>> split = {
      {"llm/embedder/input_embedding", {Placement::kVocabRows, 0}},
      {"llm/layers/attn/q_einsum/w", {Placement::kQueryHeads, 1}},
      {"llm/layers/attn/kv_einsum/w", {Placement::kKvHeads, 2}},
      {"llm/layers/attn/attn_vec_einsum/w", {Placement::kQueryHeads, 1}},
      {"llm/layers/mlp/gating_einsum", {Placement::kMlpColumns, 3}},
      {"llm/layers/mlp/linear", {Placement::kMlpColumns, 1}},
      {"llm/layers/post_ffw_norm/scale", {Placement::kReplicated, -1}},
      {"llm/final_norm/scale", {Placement::kReplicated, -1}},
  };
  for (const auto& [name, want] : split) {
    EXPECT_EQ(FindWeight(t, name).placement, want.first) << name;
    EXPECT_EQ(FindWeight(t, name).shard_axis, want.second) << name;
  }
}

TEST(WeightTable, HfSourcesNameTheHubTensorsAndTheirLayout) {
  const auto t1 = WeightTable(Cfg("paligemma-3b-pt-224"));
  const WeightSpec& q = FindWeight(t1, "llm/layers/attn/q_einsum/w");
  ASSERT_EQ(q.hf.size(), 1u);
  EXPECT_EQ(q.hf[0].hub_name, "language_model.model.layers.{l}.self_attn.q_proj.weight");
  EXPECT_EQ(q.hf[0].current_name, "model.language_model.layers.{l}.self_attn.q_proj.weight");
  EXPECT_EQ(q.hf[0].shape, (std::vector<int64_t>{2048, 2048}));
  EXPECT_EQ(q.hf[0].transform, HfTransform::kHeadsToGDH);
  EXPECT_EQ(q.hf[0].head_dim, 256);
  const WeightSpec& kv = FindWeight(t1, "llm/layers/attn/kv_einsum/w");
  ASSERT_EQ(kv.hf.size(), 2u);
  EXPECT_EQ(kv.hf[1].hub_name, "language_model.model.layers.{l}.self_attn.v_proj.weight");
  EXPECT_EQ(kv.hf[1].part, 1);
  EXPECT_EQ(kv.hf[1].shape, (std::vector<int64_t>{256, 2048}));
  const WeightSpec& patch = FindWeight(t1, "img/embedding/kernel");
  EXPECT_EQ(patch.hf.at(0).current_name, "model.vision_tower.vision_model.embeddings.patch_embedding.weight");
  EXPECT_EQ(patch.hf.at(0).shape, (std::vector<int64_t>{1152, 3, 14, 14}));
  EXPECT_EQ(patch.hf.at(0).transform, HfTransform::kPatchEmbed);
  const WeightSpec& head = FindWeight(t1, "img/head/kernel");
  EXPECT_EQ(head.hf.at(0).current_name, "model.multi_modal_projector.linear.weight");
  EXPECT_EQ(head.hf.at(0).shape, (std::vector<int64_t>{2048, 1152}));
  EXPECT_EQ(head.hf.at(0).transform, HfTransform::kTranspose);
  const WeightSpec& emb = FindWeight(t1, "llm/embedder/input_embedding");
  EXPECT_TRUE(emb.hf.at(0).extra_rows_ok);
  EXPECT_EQ(emb.hf_tied, "language_model.lm_head.weight");
  EXPECT_EQ(HfCurrentName(emb.hf_tied), "lm_head.weight");
  // The Gemma 1 naming trap: HF post_attention_layernorm is big_vision's pre_ffw_norm.
  EXPECT_EQ(FindWeight(t1, "llm/layers/pre_ffw_norm/scale").hf.at(0).hub_name,
            "language_model.model.layers.{l}.post_attention_layernorm.weight");
  const auto t2 = WeightTable(Cfg("paligemma2-3b-pt-224"));
  EXPECT_EQ(FindWeight(t2, "llm/layers/pre_ffw_norm/scale").hf.at(0).hub_name,
            "language_model.model.layers.{l}.pre_feedforward_layernorm.weight");
  EXPECT_EQ(FindWeight(t2, "llm/layers/post_attention_norm/scale").hf.at(0).hub_name,
            "language_model.model.layers.{l}.post_attention_layernorm.weight");
  EXPECT_EQ(HfLayerName("a.layers.{l}.b", 17), "a.layers.17.b");
}

std::string TpError(const ModelConfig& c, int tp) {
  try {
    CheckTensorParallel(c, tp, /*world_size=*/tp);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WeightTable, CheckTensorParallelNamesModelCountWhatAndTp) {
  ModelConfig c = Cfg("paligemma-3b-pt-224");
  for (int tp : {1, 2, 4, 8}) EXPECT_EQ(TpError(c, tp), "") << tp;
  EXPECT_EQ(TpError(c, 3), "model 'paligemma-3b-pt-224': 8 query heads are not divisible by --tp 3 (world size 3); "
                           "use a --tp that divides 8 (1, 2, 4, 8)");
  EXPECT_EQ(TpError(c, 16), "model 'paligemma-3b-pt-224': 8 query heads are not divisible by --tp 16 (world size "
                            "16); use a --tp that divides 8 (1, 2, 4, 8)");
  // The ViT is never split: its counts do not constrain tp.
  c.vision.mlp_dim = 4303;
  c.vision.num_heads = 9;
  EXPECT_EQ(TpError(c, 2), "");
  c = Cfg("paligemma-3b-pt-224");
  c.text.mlp_dim = 16382;  // 2 * 8191
  EXPECT_EQ(TpError(c, 4), "model 'paligemma-3b-pt-224': 16382 MLP columns are not divisible by --tp 4 (world size "
                           "4); use a --tp that divides 16382 (1, 2, 8191, 16382)");
  c = Cfg("paligemma-3b-pt-224");
  c.text.vocab_size = 257154;
  EXPECT_EQ(TpError(c, 4), "model 'paligemma-3b-pt-224': 257154 vocabulary rows are not divisible by --tp 4 (world "
                           "size 4); use a --tp that divides 257154 (1, 2, 3, 6, 42859, 85718, 128577, 257154)");
  // kv heads: split when tp divides them, one per rank when tp is a multiple, else an error.
  const ModelConfig g2 = Cfg("paligemma2-3b-pt-224");  // 8 heads, 4 kv heads
  for (int tp : {1, 2, 4, 8}) EXPECT_EQ(TpError(g2, tp), "") << tp;
  c = g2;
  c.text.num_heads = 12;
  c.text.mlp_dim = 12288;
  c.text.vocab_size = 257154;
  EXPECT_EQ(TpError(c, 6), "model 'paligemma2-3b-pt-224': 4 key/value heads are not divisible by --tp 6 (world size "
                           "6); use a --tp that divides 4 (1, 2, 4)");
}

TEST(WeightTable, FewerKvHeadsThanRanksCountOneHeadPerRank) {
  const ModelConfig g2 = Cfg("paligemma2-3b-pt-224");  // K = 4 kv heads
  const auto t = WeightTable(g2);
  const WeightSpec& kv = FindWeight(t, "llm/layers/attn/kv_einsum/w");
  EXPECT_EQ(ReplicatedSlices(kv, 4), 1);  // split: 1 head per rank by ShardSlab
  EXPECT_EQ(ReplicatedSlices(kv, 8), 4);  // 8 ranks, 4 heads: each rank keeps 1 of 4
  EXPECT_EQ(ReplicatedSlices(FindWeight(t, "llm/final_norm/scale"), 8), 1);
  const RankElements r4 = PerRankElements(t, 4, g2.name), r8 = PerRankElements(t, 8, g2.name);
  // At tp 4 the KV is split (sharded / 4); at tp 8 it is replicated, one head of four per rank:
  // the same number of KV elements per rank.
  EXPECT_EQ(r8.replicated - r4.replicated, kv.num_elements / 4);
  EXPECT_EQ(r4.sharded - r8.sharded * 2, kv.num_elements / 4);
}

TEST(WeightTable, HugeDimensionsAreAnErrorNotAnOverflow) {
  ModelConfig c = Cfg("paligemma-3b-pt-224");
  c.text.vocab_size = 2147483647;
  c.text.width = 2147483647;  // V*D fits int64 but not as f32 bytes
  EXPECT_THROW(WeightTable(c), Error);
  c = Cfg("paligemma-3b-pt-224");
  c.text.depth = 2147483647;
  c.text.mlp_dim = 2147483647;
  c.text.width = 2147483647;  // L*2*D*F overflows int64
  EXPECT_THROW(WeightTable(c), Error);
  EXPECT_THROW(CheckedNumElements({1LL << 40, 1LL << 40}, "x"), Error);
  EXPECT_THROW(CheckedNumElements({-1}, "x"), Error);
}

}  // namespace
}  // namespace pg
