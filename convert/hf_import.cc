#include "convert/hf_import.h"

#include <cstring>
#include <fstream>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "models/weight_table.h"
#include "runtime/check.h"

namespace pg {
namespace {

using json = nlohmann::json;

// j[key] as T when present and not null, else `def`; type errors name the source.
template <typename T>
T Field(const json& j, const char* key, T def, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  try {
    if constexpr (std::is_same_v<T, int>) {
      // Token ids may be lists in some configs: take the first.
      if (it->is_array() && !it->empty()) return (*it)[0].get<int>();
    }
    return it->get<T>();
  } catch (const json::exception& e) {
    PG_THROW("HF config " << where << ": field '" << key << "' has the wrong type (" << e.what() << ")");
  }
}

// A Gemma 2 soft-cap or window: absent -> the Gemma2Config default; JSON null -> off (0), as
// in transformers, where None disables the soft-cap / the sliding window.
template <typename T>
T NullMeansOff(const json& j, const char* key, T def, const std::string& where) {
  auto it = j.find(key);
  if (it != j.end() && it->is_null()) return T{0};
  return Field<T>(j, key, def, where);
}

// Fields whose other values the engine cannot honour: absent or null is the default.
void RequireValue(const json& j, const char* key, const std::string& want, const std::string& where) {
  const std::string got = Field<std::string>(j, key, want, where);
  PG_CHECK(got == want, "HF config " << where << ": field '" << key << "' is \"" << got << "\"; the engine implements only \""
                                     << want << "\"");
}

void RejectTrue(const json& j, const char* key, const std::string& what, const std::string& where) {
  PG_CHECK(!Field<bool>(j, key, false, where),
           "HF config " << where << ": field '" << key << "' is true; the engine has no " << what);
}

void ParseVision(const json& j, const std::string& src, ModelConfig* c) {
  const bool has = j.contains("vision_config") && j["vision_config"].is_object();
  const json vc = has ? j["vision_config"] : json::object();
  const std::string w = src + " (vision_config)";
  const std::string type = Field<std::string>(vc, "model_type", "siglip_vision_model", w);
  PG_CHECK(type == "siglip_vision_model", "HF config " << w << ": model_type '" << type
                                                       << "' is not supported (expected siglip_vision_model)");
  // SiglipVisionConfig defaults, or PaliGemmaConfig's when vision_config is absent.
  VisionConfig& v = c->vision;
  v.width = Field<int>(vc, "hidden_size", has ? 768 : 1152, w);
  v.mlp_dim = Field<int>(vc, "intermediate_size", has ? 3072 : 4096, w);
  v.depth = Field<int>(vc, "num_hidden_layers", has ? 12 : 27, w);
  v.num_heads = Field<int>(vc, "num_attention_heads", has ? 12 : 16, w);
  v.image_size = Field<int>(vc, "image_size", 224, w);
  v.patch_size = Field<int>(vc, "patch_size", has ? 16 : 14, w);
  v.norm_eps = Field<float>(vc, "layer_norm_eps", 1e-6f, w);
  PG_CHECK(Field<int>(vc, "num_channels", 3, w) == 3, "HF config " << w << ": num_channels must be 3");
  PG_CHECK(!Field<bool>(vc, "vision_use_head", false, w),
           "HF config " << w << ": vision_use_head=true (a pooling head) is not part of PaliGemma");
  RequireValue(vc, "hidden_act", "gelu_pytorch_tanh", w);
}

void ParseText(const json& j, const std::string& src, ModelConfig* c) {
  const bool has = j.contains("text_config") && j["text_config"].is_object();
  const json tc = has ? j["text_config"] : json::object();
  const std::string w = src + " (text_config)";
  const std::string type = Field<std::string>(tc, "model_type", "gemma", w);
  PG_CHECK(type == "gemma" || type == "gemma2",
           "HF config " << w << ": model_type '" << type << "' is not supported (expected gemma or gemma2)");
  const bool g2 = type == "gemma2";
  c->family = g2 ? "paligemma2" : "paligemma";
  TextConfig& t = c->text;
  // GemmaConfig / Gemma2Config defaults, or PaliGemmaConfig's when text_config is absent.
  t.width = Field<int>(tc, "hidden_size", !has ? 2048 : g2 ? 2304 : 3072, w);
  t.depth = Field<int>(tc, "num_hidden_layers", !has ? 18 : g2 ? 26 : 28, w);
  t.mlp_dim = Field<int>(tc, "intermediate_size", !has ? 16384 : g2 ? 9216 : 24576, w);
  t.num_heads = Field<int>(tc, "num_attention_heads", !has ? 8 : g2 ? 8 : 16, w);
  t.num_kv_heads = Field<int>(tc, "num_key_value_heads", !has ? 1 : g2 ? 4 : 16, w);
  t.head_dim = Field<int>(tc, "head_dim", 256, w);
  t.norm_eps = Field<float>(tc, "rms_norm_eps", 1e-6f, w);
  float rope = Field<float>(tc, "rope_theta", 10000.f, w);
  if (tc.contains("rope_parameters") && tc["rope_parameters"].is_object()) {
    const json& rp = tc["rope_parameters"];
    rope = Field<float>(rp, "rope_theta", rope, w + ".rope_parameters");
    const std::string rt = Field<std::string>(rp, "rope_type", "default", w + ".rope_parameters");
    PG_CHECK(rt == "default", "HF config " << w << ": rope_type '" << rt << "' is not supported");
  }
  PG_CHECK(!tc.contains("rope_scaling") || tc["rope_scaling"].is_null(),
           "HF config " << w << ": rope_scaling is not supported");
  t.rope_base = rope;
  // Gemma's MLP activation (transformers reads hidden_activation; hidden_act is legacy and ignored)
  // and attention without biases.
  RequireValue(tc, "hidden_activation", "gelu_pytorch_tanh", w);
  RejectTrue(tc, "attention_bias", "q/k/v/o projection biases", w);
  if (g2) {
    t.query_pre_attn_scalar = Field<float>(tc, "query_pre_attn_scalar", 256.f, w);
    t.attn_softcap = NullMeansOff<float>(tc, "attn_logit_softcapping", 50.f, w);
    t.final_softcap = NullMeansOff<float>(tc, "final_logit_softcapping", 30.f, w);
    t.sliding_window = NullMeansOff<int>(tc, "sliding_window", 4096, w);
    t.post_norms = true;
    // Newer configs spell the alternation out; it must be ours (sliding on even layers).
    if (tc.contains("layer_types") && tc["layer_types"].is_array()) {
      const json& lt = tc["layer_types"];
      PG_CHECK(static_cast<int>(lt.size()) == t.depth,
               "HF config " << w << ": layer_types has " << lt.size() << " entries for " << t.depth << " layers");
      for (int l = 0; l < t.depth; ++l) {
        const std::string want = l % 2 == 0 ? "sliding_attention" : "full_attention";
        PG_CHECK(lt[l] == want, "HF config " << w << ": layer_types[" << l << "] is " << lt[l].dump() << "; expected \""
                                             << want << "\" (Gemma 2 alternates, sliding on even layers)");
      }
    }
  } else {
    t.query_pre_attn_scalar = static_cast<float>(t.head_dim);
    t.attn_softcap = t.final_softcap = 0.f;
    t.sliding_window = 0;
    t.post_norms = false;
  }
  const int hf_vocab = Field<int>(tc, "vocab_size", Field<int>(j, "vocab_size", !has ? 257152 : 256000, src), w);
  t.vocab_size = hf_vocab;
  if (j.contains("image_token_index") || j.contains("image_token_id")) {
    const int image_token = Field<int>(j, "image_token_index", Field<int>(j, "image_token_id", 0, src), src);
    // HF appends <image> right after the tokenizer's ids and pads the table to a multiple of
    // 64 rows (257152 -> 257216 for the release; 1600 -> 1664 for the test fixtures).
    if (image_token > 0 && image_token < hf_vocab && hf_vocab % 64 == 0 && hf_vocab - image_token <= 64)
      t.vocab_size = image_token;
  }
  TokenConfig& k = c->tokens;
  k.pad = Field<int>(j, "pad_token_id", Field<int>(tc, "pad_token_id", 0, w), src);
  k.eos = Field<int>(j, "eos_token_id", Field<int>(tc, "eos_token_id", 1, w), src);
  k.bos = Field<int>(j, "bos_token_id", Field<int>(tc, "bos_token_id", 2, w), src);
}

}  // namespace

ModelConfig HfConfigToModelConfig(const json& j, const std::string& source, const HfImportOptions& opt) {
  PG_CHECK(j.is_object(), "HF config " << source << ": expected a JSON object");
  const std::string type = Field<std::string>(j, "model_type", "paligemma", source);
  PG_CHECK(type == "paligemma", "HF config " << source << ": model_type '" << type
                                             << "' is not a PaliGemma model (expected \"paligemma\")");
  ModelConfig c;
  c.name = opt.name.empty() ? "hf-import" : opt.name;
  ParseVision(j, source, &c);
  ParseText(j, source, &c);
  if (opt.vocab_size > 0) c.text.vocab_size = opt.vocab_size;
  const int proj = Field<int>(j, "projection_dim", c.text.width, source);
  PG_CHECK(proj == c.text.width, "HF config " << source << ": projection_dim " << proj
                                              << " differs from text hidden_size " << c.text.width);
  c.max_seq_len = opt.max_seq_len > 0 ? opt.max_seq_len : c.num_image_tokens() + 256;
  c.Validate("HF config " + source);
  return c;
}

ModelConfig ReadHfConfig(const std::string& path, const HfImportOptions& opt) {
  std::ifstream in(path);
  PG_CHECK(in.good(), "HF config '" << path << "': cannot open");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    PG_THROW("HF config '" << path << "': not valid JSON (" << e.what() << ")");
  }
  return HfConfigToModelConfig(j, "'" + path + "'", opt);
}

std::string CanonicalHfName(const std::string& name) {
  std::string out = name;
  for (const HfPrefixRename& r : HfPrefixRenames())
    if (out.rfind(r.current, 0) == 0) {
      out = r.hub + out.substr(std::strlen(r.current));
      break;
    }
  // transformers 5.x saves the SigLIP tower without its "vision_model." level.
  const std::string tower = "vision_tower.", inner = "vision_tower.vision_model.";
  if (out.rfind(tower, 0) == 0 && out.rfind(inner, 0) != 0) out = inner + out.substr(tower.size());
  return out;
}

bool IsTiedLmHead(const std::string& canonical_name) { return canonical_name == kHfTiedLmHead; }

void HfToBigVision(const HfTensorTarget& t, const float* src, float* dst) {
  switch (t.transform) {
    case HfTransform::kCopy: {
      const int64_t n = CheckedNumElements(t.count, t.dataset);
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    }
    case HfTransform::kTranspose: {  // src [R, C] -> dst [C, R], in cache-friendly tiles
      const int64_t R = t.rows, C = t.cols, B = 64;
      for (int64_t r0 = 0; r0 < R; r0 += B)
        for (int64_t c0 = 0; c0 < C; c0 += B)
          for (int64_t r = r0; r < std::min(R, r0 + B); ++r)
            for (int64_t c = c0; c < std::min(C, c0 + B); ++c) dst[c * R + r] = src[r * C + c];
      return;
    }
    case HfTransform::kHeadsToGDH: {  // src [G*H, D] -> dst [G, D, H]
      const int64_t H = t.head_dim, G = t.rows / H, D = t.cols;
      for (int64_t g = 0; g < G; ++g)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t d = 0; d < D; ++d) dst[(g * D + d) * H + h] = src[(g * H + h) * D + d];
      return;
    }
    case HfTransform::kPatchEmbed: {  // src [O, C, P, Q] -> dst [P, Q, C, O]
      const int64_t O = t.hf_shape[0], C = t.hf_shape[1], P = t.hf_shape[2], Q = t.hf_shape[3];
      for (int64_t o = 0; o < O; ++o)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t p = 0; p < P; ++p)
            for (int64_t q = 0; q < Q; ++q) dst[((p * Q + q) * C + c) * O + o] = src[((o * C + c) * P + p) * Q + q];
      return;
    }
  }
}

}  // namespace pg
