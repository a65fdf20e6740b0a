// ModelConfig: the one validated description of a PaliGemma model (vision tower,
// projector, Gemma decoder, special tokens). Parsed from configs/*.json, stored as the
// "config" attribute (JSON text) of every HDF5 checkpoint.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace pg {

// SigLIP ViT (big_vision So400m/14 for the real models).
struct VisionConfig {
  int image_size = 224;   // input resolution, square
  int patch_size = 14;
  int width = 1152;       // d_model of the ViT
  int depth = 27;
  int mlp_dim = 4304;
  int num_heads = 16;
  float norm_eps = 1e-6f;  // LayerNorm epsilon

  int grid() const { return image_size / patch_size; }
  int num_patches() const { return grid() * grid(); }  // = image tokens
  int head_dim() const { return width / num_heads; }
};

// Gemma / Gemma 2 decoder.
struct TextConfig {
  int width = 2048;        // d_model
  int depth = 18;
  int mlp_dim = 16384;     // d_ff
  int num_heads = 8;
  int num_kv_heads = 1;    // 1 = multi-query attention
  int head_dim = 256;
  int vocab_size = 257152;
  float norm_eps = 1e-6f;  // RMSNorm epsilon
  float rope_base = 10000.f;
  // Queries are scaled by query_pre_attn_scalar^-0.5 (head_dim for all but Gemma 2 27B).
  float query_pre_attn_scalar = 256.f;
  float attn_softcap = 0.f;    // Gemma 2: 50 (0 = off)
  float final_softcap = 0.f;   // Gemma 2: 30 (0 = off)
  bool post_norms = false;     // Gemma 2: post_attention_norm / post_ffw_norm
  int sliding_window = 0;      // Gemma 2: 4096 on even layers (0 = off)

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }
  float query_scale() const { return 1.f / std::sqrt(query_pre_attn_scalar); }
  // Layer l uses the sliding window when Gemma 2's alternating pattern says so.
  bool IsSlidingLayer(int layer) const { return sliding_window > 0 && layer % 2 == 0; }
};

struct TokenConfig {
  int pad = 0;
  int eos = 1;
  int bos = 2;
};

struct ModelConfig {
  std::string name;
  std::string family = "paligemma";  // "paligemma" (Gemma 1) or "paligemma2" (Gemma 2)
  VisionConfig vision;
  TextConfig text;
  TokenConfig tokens;
  int max_seq_len = 1024;  // upper bound on image + prompt + generated tokens

  int num_image_tokens() const { return vision.num_patches(); }

  // Throws pg::Error naming `source` and the offending field.
  void Validate(const std::string& source) const;

  static ModelConfig FromJson(const nlohmann::json& j, const std::string& source);
  static ModelConfig FromJsonText(const std::string& text, const std::string& source);
  static ModelConfig FromFile(const std::string& path);
  nlohmann::json ToJson() const;
  std::string ToJsonText() const;
};

}  // namespace pg
