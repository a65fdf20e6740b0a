#include "models/model_config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/check.h"

namespace pg {
namespace {

using json = nlohmann::json;

// Reads `key` from object `j` into `out` if present; type errors name the source and key.
template <typename T>
void Get(const json& j, const char* key, T& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    out = it->get<T>();
  } catch (const json::exception& e) {
    PG_THROW("config " << where << ": field '" << key << "' has the wrong type (" << e.what() << ")");
  }
}

void CheckPositive(int v, const char* field, const std::string& source) {
  PG_CHECK(v > 0, "config " << source << ": " << field << " must be > 0, got " << v);
}

}  // namespace

void ModelConfig::Validate(const std::string& source) const {
  PG_CHECK(family == "paligemma" || family == "paligemma2",
           "config " << source << ": family must be \"paligemma\" or \"paligemma2\", got \"" << family << "\"");
  const VisionConfig& v = vision;
  CheckPositive(v.image_size, "vision.image_size", source);
  CheckPositive(v.patch_size, "vision.patch_size", source);
  CheckPositive(v.width, "vision.width", source);
  CheckPositive(v.depth, "vision.depth", source);
  CheckPositive(v.mlp_dim, "vision.mlp_dim", source);
  CheckPositive(v.num_heads, "vision.num_heads", source);
  PG_CHECK(v.image_size % v.patch_size == 0, "config " << source << ": vision.image_size " << v.image_size
           << " is not a multiple of vision.patch_size " << v.patch_size);
  PG_CHECK(v.width % v.num_heads == 0, "config " << source << ": vision.width " << v.width
           << " is not divisible by vision.num_heads " << v.num_heads);
  const TextConfig& t = text;
  CheckPositive(t.width, "text.width", source);
  CheckPositive(t.depth, "text.depth", source);
  CheckPositive(t.mlp_dim, "text.mlp_dim", source);
  CheckPositive(t.num_heads, "text.num_heads", source);
  CheckPositive(t.num_kv_heads, "text.num_kv_heads", source);
  CheckPositive(t.head_dim, "text.head_dim", source);
  CheckPositive(t.vocab_size, "text.vocab_size", source);
  PG_CHECK(t.head_dim % 2 == 0, "config " << source << ": text.head_dim must be even for RoPE, got " << t.head_dim);
  PG_CHECK(t.num_heads % t.num_kv_heads == 0, "config " << source << ": text.num_heads " << t.num_heads
           << " is not a multiple of text.num_kv_heads " << t.num_kv_heads);
  PG_CHECK(t.query_pre_attn_scalar > 0, "config " << source << ": text.query_pre_attn_scalar must be > 0");
  PG_CHECK(t.attn_softcap >= 0 && t.final_softcap >= 0 && t.sliding_window >= 0,
           "config " << source << ": softcaps and sliding_window must be >= 0");
  PG_CHECK(tokens.bos >= 0 && tokens.bos < t.vocab_size && tokens.eos >= 0 && tokens.eos < t.vocab_size &&
               tokens.pad >= 0 && tokens.pad < t.vocab_size,
           "config " << source << ": special token ids must lie in [0, vocab_size=" << t.vocab_size << ")");
  PG_CHECK(max_seq_len > num_image_tokens() + 2, "config " << source << ": max_seq_len " << max_seq_len
           << " leaves no room for a prompt after " << num_image_tokens() << " image tokens");
}

ModelConfig ModelConfig::FromJson(const json& j, const std::string& source) {
  PG_CHECK(j.is_object(), "config " << source << ": expected a JSON object");
  ModelConfig c;
  Get(j, "name", c.name, source);
  Get(j, "family", c.family, source);
  Get(j, "max_seq_len", c.max_seq_len, source);
  if (c.family == "paligemma2") {
    // Gemma 2 defaults; explicit fields below override them.
    c.text.attn_softcap = 50.f;
    c.text.final_softcap = 30.f;
    c.text.post_norms = true;
    c.text.sliding_window = 4096;
  }
  if (auto it = j.find("vision"); it != j.end()) {
    const std::string w = source + " (vision)";
    VisionConfig& v = c.vision;
    Get(*it, "image_size", v.image_size, w);
    Get(*it, "patch_size", v.patch_size, w);
    Get(*it, "width", v.width, w);
    Get(*it, "depth", v.depth, w);
    Get(*it, "mlp_dim", v.mlp_dim, w);
    Get(*it, "num_heads", v.num_heads, w);
    Get(*it, "norm_eps", v.norm_eps, w);
  }
  bool has_qscale = false;
  if (auto it = j.find("text"); it != j.end()) {
    const std::string w = source + " (text)";
    TextConfig& t = c.text;
    Get(*it, "width", t.width, w);
    Get(*it, "depth", t.depth, w);
    Get(*it, "mlp_dim", t.mlp_dim, w);
    Get(*it, "num_heads", t.num_heads, w);
    Get(*it, "num_kv_heads", t.num_kv_heads, w);
    Get(*it, "head_dim", t.head_dim, w);
    Get(*it, "vocab_size", t.vocab_size, w);
    Get(*it, "norm_eps", t.norm_eps, w);
    Get(*it, "rope_base", t.rope_base, w);
    has_qscale = it->contains("query_pre_attn_scalar");
    Get(*it, "query_pre_attn_scalar", t.query_pre_attn_scalar, w);
    Get(*it, "attn_softcap", t.attn_softcap, w);
    Get(*it, "final_softcap", t.final_softcap, w);
    Get(*it, "post_norms", t.post_norms, w);
    Get(*it, "sliding_window", t.sliding_window, w);
  }
  if (!has_qscale) c.text.query_pre_attn_scalar = static_cast<float>(c.text.head_dim);
  if (auto it = j.find("tokens"); it != j.end()) {
    const std::string w = source + " (tokens)";
    Get(*it, "pad", c.tokens.pad, w);
    Get(*it, "eos", c.tokens.eos, w);
    Get(*it, "bos", c.tokens.bos, w);
  }
  c.Validate(source);
  return c;
}

ModelConfig ModelConfig::FromJsonText(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    PG_THROW("config " << source << ": not valid JSON (" << e.what() << ")");
  }
  return FromJson(j, source);
}

ModelConfig ModelConfig::FromFile(const std::string& path) {
  std::ifstream in(path);
  PG_CHECK(in.good(), "config " << path << ": cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  return FromJsonText(ss.str(), path);
}

json ModelConfig::ToJson() const {
  json j;
  j["name"] = name;
  j["family"] = family;
  j["max_seq_len"] = max_seq_len;
  j["vision"] = {{"image_size", vision.image_size}, {"patch_size", vision.patch_size},
                 {"width", vision.width},           {"depth", vision.depth},
                 {"mlp_dim", vision.mlp_dim},       {"num_heads", vision.num_heads},
                 {"norm_eps", vision.norm_eps}};
  j["text"] = {{"width", text.width},
               {"depth", text.depth},
               {"mlp_dim", text.mlp_dim},
               {"num_heads", text.num_heads},
               {"num_kv_heads", text.num_kv_heads},
               {"head_dim", text.head_dim},
               {"vocab_size", text.vocab_size},
               {"norm_eps", text.norm_eps},
               {"rope_base", text.rope_base},
               {"query_pre_attn_scalar", text.query_pre_attn_scalar},
               {"attn_softcap", text.attn_softcap},
               {"final_softcap", text.final_softcap},
               {"post_norms", text.post_norms},
               {"sliding_window", text.sliding_window}};
  j["tokens"] = {{"pad", tokens.pad}, {"eos", tokens.eos}, {"bos", tokens.bos}};
  return j;
}

std::string ModelConfig::ToJsonText() const { return ToJson().dump(2); }

}  // namespace pg
