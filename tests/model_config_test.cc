#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "models/model_config.h"
#include "runtime/check.h"

namespace pg {
namespace {

std::string Cfg(const std::string& name) { return std::string(PG_SOURCE_DIR) + "/configs/" + name; }

TEST(ModelConfig, RealConfigsParseWithKnownShapes) {
  ModelConfig c = ModelConfig::FromFile(Cfg("paligemma-3b-pt-224.json"));
  EXPECT_EQ(c.num_image_tokens(), 256);
  EXPECT_EQ(c.text.num_heads, 8);
  EXPECT_EQ(c.text.num_kv_heads, 1);
  EXPECT_EQ(c.text.vocab_size, 257152);
  EXPECT_FLOAT_EQ(c.text.query_scale(), 1.f / 16.f);
  EXPECT_EQ(ModelConfig::FromFile(Cfg("paligemma-3b-pt-448.json")).num_image_tokens(), 1024);
  EXPECT_EQ(ModelConfig::FromFile(Cfg("paligemma-3b-pt-896.json")).num_image_tokens(), 4096);
  ModelConfig g2 = ModelConfig::FromFile(Cfg("paligemma2-28b-pt-224.json"));
  EXPECT_TRUE(g2.text.post_norms);
  EXPECT_FLOAT_EQ(g2.text.query_scale(), 1.f / 12.f);
  EXPECT_TRUE(g2.text.IsSlidingLayer(0));
  EXPECT_FALSE(g2.text.IsSlidingLayer(1));
  ModelConfig tiny = ModelConfig::FromFile(Cfg("tiny.json"));
  EXPECT_EQ(tiny.num_image_tokens(), 64);
}

TEST(ModelConfig, JsonRoundTrip) {
  ModelConfig c = ModelConfig::FromFile(Cfg("paligemma2-3b-pt-448.json"));
  ModelConfig d = ModelConfig::FromJsonText(c.ToJsonText(), "roundtrip");
  EXPECT_EQ(c.ToJson(), d.ToJson());
}

TEST(ModelConfig, InvalidConfigsNameTheField) {
  auto expect_error = [](const std::string& text, const std::string& needle) {
    try {
      ModelConfig::FromJsonText(text, "bad.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    }
  };
  expect_error("{not json", "not valid JSON");
  expect_error(R"({"text": {"num_heads": 6, "num_kv_heads": 4}})", "num_kv_heads");
  expect_error(R"({"vision": {"image_size": 225}})", "patch_size");
  expect_error(R"({"text": {"width": "wide"}})", "width");
  expect_error(R"({"family": "llama"})", "family");
  expect_error(R"({"text": {"head_dim": 0}})", "head_dim");
  EXPECT_THROW(ModelConfig::FromFile("/nonexistent/x.json"), Error);
}

}  // namespace
}  // namespace pg
