// Hugging Face tensor names from every transformers generation map to the on-Hub names the
// converter's table is written in.
#include <gtest/gtest.h>

#include "convert/hf_import.h"
#include "models/weight_table.h"

namespace pg {
namespace {

TEST(HfNames, AllGenerationsMapToHubNames) {
  const std::string hub = "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight";
  EXPECT_EQ(CanonicalHfName(hub), hub);
  EXPECT_EQ(CanonicalHfName("model.vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight"), hub);
  // transformers 5.x save_pretrained drops the "vision_model." level.
  EXPECT_EQ(CanonicalHfName("vision_tower.encoder.layers.0.mlp.fc1.weight"), hub);
  EXPECT_EQ(CanonicalHfName("model.vision_tower.encoder.layers.0.mlp.fc1.weight"), hub);
  EXPECT_EQ(CanonicalHfName("model.language_model.layers.3.self_attn.q_proj.weight"),
            "language_model.model.layers.3.self_attn.q_proj.weight");
  EXPECT_EQ(CanonicalHfName("model.multi_modal_projector.linear.bias"), "multi_modal_projector.linear.bias");
  EXPECT_EQ(CanonicalHfName("lm_head.weight"), "language_model.lm_head.weight");
}

// Every HF source in the weight table: its current spelling maps back to its on-Hub name,
// and the map holds one entry per tensor of the real checkpoint.
TEST(HfNames, TableSourcesRoundTripAndCountTheHubTensors) {
  const ModelConfig c = ModelConfig::FromFile(std::string(PG_SOURCE_DIR) + "/configs/paligemma-3b-pt-224.json");
  for (const WeightSpec& s : WeightTable(c))
    for (const HfSource& h : s.hf) {
      EXPECT_EQ(CanonicalHfName(HfLayerName(h.current_name, 3)), HfLayerName(h.hub_name, 3)) << s.name;
      EXPECT_NE(h.current_name, h.hub_name) << s.name;  // every tensor moved in transformers 4.52
    }
  // ViT: patch kernel, bias, position embedding; 27 layers of 16 tensors (2 LayerNorms, q/k/v/out
  // weight and bias, fc1/fc2 weight and bias); post_layernorm (2); projector (2). Gemma: the
  // embedding; 18 layers of 9 (q, k, v, o, gate, up, down, 2 norms); the final norm.
  const std::map<std::string, HfTensorTarget> m = HfTensorMap(c);
  EXPECT_EQ(m.size(), 3u + 27 * 16 + 2 + 2 + 1 + 18 * 9 + 1);
  const HfTensorTarget& up = m.at("language_model.model.layers.17.mlp.up_proj.weight");
  EXPECT_EQ(up.dataset, "llm/layers/mlp/gating_einsum");
  EXPECT_EQ(up.start, (std::vector<int64_t>{17, 1, 0, 0}));
  EXPECT_EQ(up.count, (std::vector<int64_t>{1, 1, 2048, 16384}));
  EXPECT_EQ(up.hf_shape, (std::vector<int64_t>{16384, 2048}));
  EXPECT_EQ(up.transform, HfTransform::kTranspose);
  EXPECT_EQ(up.rows, 16384);
  EXPECT_EQ(up.cols, 2048);
  EXPECT_FALSE(m.count("language_model.model.layers.18.mlp.up_proj.weight"));
  EXPECT_FALSE(m.count(kHfTiedLmHead));
}

}  // namespace
}  // namespace pg
