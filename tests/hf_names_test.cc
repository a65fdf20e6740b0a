// Hugging Face tensor names from every transformers generation map to the on-Hub names the
// converter's table is written in.
#include <gtest/gtest.h>

#include "io/hf_import.h"

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

}  // namespace
}  // namespace pg
