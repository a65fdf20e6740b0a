// Test-only big_vision -> Hugging Face export, written directly from transformers'
// convert_paligemma_weights_to_hf.py (MODEL_FACTS 3.2) as explicit index formulas, so it is
// independent of the converter's convert/hf_tensor_map.cc. Each HF tensor is a gather of its
// source dataset; 2-byte stores keep their exact bits (F16 / BF16 safetensors).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/source_writers_test_util.h"

namespace pg::testing {

struct HfExportOptions {
  bool new_names = false;     // transformers >= 4.52 names (model.language_model., ...)
  int64_t extra_vocab_rows = 0;  // padding rows appended to embed_tokens (HF pads 257152 -> 257216)
  bool lm_head = false;       // also write the tied lm_head (with different padding rows)
};

// HF tensor = src[index(i)] for each flat HF index i; `hf_shape` gives its shape.
inline StTensor Gather(const std::string& name, const TestTensor& src, const std::vector<int64_t>& hf_shape,
                       const std::function<int64_t(const std::vector<int64_t>&)>& src_index) {
  StTensor t;
  t.name = name;
  t.shape = hf_shape;
  t.dtype = src.store == Store::kF32 ? "F32" : src.store == Store::kF16 ? "F16" : "BF16";
  const int64_t n = CheckedNumElements(hf_shape, name);
  std::vector<int64_t> idx(hf_shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = src_index(idx);
    if (src.store == Store::kF32)
      t.data.append(reinterpret_cast<const char*>(&src.values[s]), 4);
    else
      t.data.append(reinterpret_cast<const char*>(&src.bits[s]), 2);
    for (size_t a = hf_shape.size(); a-- > 0;) {  // next C-order index
      if (++idx[a] < hf_shape[a]) break;
      idx[a] = 0;
    }
  }
  return t;
}

// Flat C-order offset of `i` in `shape`.
inline int64_t Off(const std::vector<int64_t>& shape, const std::vector<int64_t>& i) {
  int64_t o = 0;
  for (size_t a = 0; a < shape.size(); ++a) o = o * shape[a] + i[a];
  return o;
}

inline std::vector<StTensor> HfTensorsOfWeights(const ModelConfig& c, const TestWeights& w, const HfExportOptions& o) {
  std::vector<StTensor> out;
  const int64_t Dv = c.vision.width, Nv = c.vision.num_heads, Hv = c.vision.head_dim(), Fv = c.vision.mlp_dim;
  const int64_t P = c.vision.patch_size, Np = c.vision.num_patches();
  const int64_t D = c.text.width, N = c.text.num_heads, K = c.text.num_kv_heads, H = c.text.head_dim;
  const int64_t F = c.text.mlp_dim, V = c.text.vocab_size;
  const std::string vt = o.new_names ? "model.vision_tower.vision_model." : "vision_tower.vision_model.";
  const std::string lm = o.new_names ? "model.language_model." : "language_model.model.";
  const std::string mmp = o.new_names ? "model.multi_modal_projector." : "multi_modal_projector.";
  auto T = [&](const std::string& n) -> const TestTensor& { return w.at(n); };

  // patch_embedding.weight = kernel.transpose(3, 2, 0, 1): [Dv, 3, P, P]
  const TestTensor& ker = T("img/embedding/kernel");
  out.push_back(Gather(vt + "embeddings.patch_embedding.weight", ker, {Dv, 3, P, P},
                       [&](auto& i) { return Off(ker.shape, {i[2], i[3], i[1], i[0]}); }));
  auto copy = [&](const std::string& hf, const std::string& ds, std::vector<int64_t> shape, int64_t base) {
    out.push_back(Gather(hf, T(ds), shape, [&, base, shape](auto& i) { return base + Off(shape, i); }));
  };
  copy(vt + "embeddings.patch_embedding.bias", "img/embedding/bias", {Dv}, 0);
  copy(vt + "embeddings.position_embedding.weight", "img/pos_embedding", {Np, Dv}, 0);
  const std::string blk = "img/Transformer/encoderblock/", mha = blk + "MultiHeadDotProductAttention_0/";
  for (int64_t l = 0; l < c.vision.depth; ++l) {
    const std::string p = vt + "encoder.layers." + std::to_string(l) + ".";
    copy(p + "layer_norm1.weight", blk + "LayerNorm_0/scale", {Dv}, l * Dv);
    copy(p + "layer_norm1.bias", blk + "LayerNorm_0/bias", {Dv}, l * Dv);
    copy(p + "layer_norm2.weight", blk + "LayerNorm_1/scale", {Dv}, l * Dv);
    copy(p + "layer_norm2.bias", blk + "LayerNorm_1/bias", {Dv}, l * Dv);
    for (const auto& [hf, bv] : std::vector<std::pair<std::string, std::string>>{
             {"q_proj", "query"}, {"k_proj", "key"}, {"v_proj", "value"}}) {
      const TestTensor& k = T(mha + bv + "/kernel");  // [Lv, Dv, Nv, Hv]; W[n*Hv+h, d]
      out.push_back(Gather(p + "self_attn." + hf + ".weight", k, {Nv * Hv, Dv},
                           [&, l](auto& i) { return Off(k.shape, {l, i[1], i[0] / Hv, i[0] % Hv}); }));
      copy(p + "self_attn." + hf + ".bias", mha + bv + "/bias", {Nv * Hv}, l * Nv * Hv);
    }
    const TestTensor& ok = T(mha + "out/kernel");  // [Lv, Nv, Hv, Dv]; W[o, n*Hv+h]
    out.push_back(Gather(p + "self_attn.out_proj.weight", ok, {Dv, Nv * Hv},
                         [&, l](auto& i) { return Off(ok.shape, {l, i[1] / Hv, i[1] % Hv, i[0]}); }));
    copy(p + "self_attn.out_proj.bias", mha + "out/bias", {Dv}, l * Dv);
    const TestTensor& d0 = T(blk + "MlpBlock_0/Dense_0/kernel");  // [Lv, Dv, Fv]
    out.push_back(Gather(p + "mlp.fc1.weight", d0, {Fv, Dv}, [&, l](auto& i) { return Off(d0.shape, {l, i[1], i[0]}); }));
    copy(p + "mlp.fc1.bias", blk + "MlpBlock_0/Dense_0/bias", {Fv}, l * Fv);
    const TestTensor& d1 = T(blk + "MlpBlock_0/Dense_1/kernel");  // [Lv, Fv, Dv]
    out.push_back(Gather(p + "mlp.fc2.weight", d1, {Dv, Fv}, [&, l](auto& i) { return Off(d1.shape, {l, i[1], i[0]}); }));
    copy(p + "mlp.fc2.bias", blk + "MlpBlock_0/Dense_1/bias", {Dv}, l * Dv);
  }
  copy(vt + "post_layernorm.weight", "img/Transformer/encoder_norm/scale", {Dv}, 0);
  copy(vt + "post_layernorm.bias", "img/Transformer/encoder_norm/bias", {Dv}, 0);
  const TestTensor& head = T("img/head/kernel");  // [Dv, D]
  out.push_back(Gather(mmp + "linear.weight", head, {D, Dv}, [&](auto& i) { return Off(head.shape, {i[1], i[0]}); }));
  copy(mmp + "linear.bias", "img/head/bias", {D}, 0);

  // Embedding, plus padding rows that the converter must drop (their values: row r-V's).
  const TestTensor& emb = T("llm/embedder/input_embedding");
  out.push_back(Gather(lm + "embed_tokens.weight", emb, {V + o.extra_vocab_rows, D},
                       [&](auto& i) { return Off(emb.shape, {i[0] % V, i[1]}); }));
  const TestTensor& q = T("llm/layers/attn/q_einsum/w");         // [L, N, D, H]
  const TestTensor& kv = T("llm/layers/attn/kv_einsum/w");       // [L, 2, K, D, H]
  const TestTensor& av = T("llm/layers/attn/attn_vec_einsum/w"); // [L, N, H, D]
  const TestTensor& gate = T("llm/layers/mlp/gating_einsum");    // [L, 2, D, F]
  const TestTensor& lin = T("llm/layers/mlp/linear");            // [L, F, D]
  for (int64_t l = 0; l < c.text.depth; ++l) {
    const std::string p = lm + "layers." + std::to_string(l) + ".";
    out.push_back(Gather(p + "self_attn.q_proj.weight", q, {N * H, D},
                         [&, l](auto& i) { return Off(q.shape, {l, i[0] / H, i[1], i[0] % H}); }));
    for (int64_t j = 0; j < 2; ++j)
      out.push_back(Gather(p + (j == 0 ? "self_attn.k_proj.weight" : "self_attn.v_proj.weight"), kv, {K * H, D},
                           [&, l, j](auto& i) { return Off(kv.shape, {l, j, i[0] / H, i[1], i[0] % H}); }));
    out.push_back(Gather(p + "self_attn.o_proj.weight", av, {D, N * H},
                         [&, l](auto& i) { return Off(av.shape, {l, i[1] / H, i[1] % H, i[0]}); }));
    for (int64_t j = 0; j < 2; ++j)
      out.push_back(Gather(p + (j == 0 ? "mlp.gate_proj.weight" : "mlp.up_proj.weight"), gate, {F, D},
                           [&, l, j](auto& i) { return Off(gate.shape, {l, j, i[1], i[0]}); }));
    out.push_back(Gather(p + "mlp.down_proj.weight", lin, {D, F}, [&, l](auto& i) { return Off(lin.shape, {l, i[1], i[0]}); }));
    copy(p + "input_layernorm.weight", "llm/layers/pre_attention_norm/scale", {D}, l * D);
    if (c.text.post_norms) {
      copy(p + "post_attention_layernorm.weight", "llm/layers/post_attention_norm/scale", {D}, l * D);
      copy(p + "pre_feedforward_layernorm.weight", "llm/layers/pre_ffw_norm/scale", {D}, l * D);
      copy(p + "post_feedforward_layernorm.weight", "llm/layers/post_ffw_norm/scale", {D}, l * D);
    } else {
      copy(p + "post_attention_layernorm.weight", "llm/layers/pre_ffw_norm/scale", {D}, l * D);
    }
  }
  copy(lm + "norm.weight", "llm/final_norm/scale", {D}, 0);
  if (o.lm_head)  // tied: equal on the vocabulary rows, different padding rows
    out.push_back(Gather(o.new_names ? "lm_head.weight" : "language_model.lm_head.weight", emb,
                         {V + o.extra_vocab_rows, D},
                         [&](auto& i) { return Off(emb.shape, {i[0] < V ? i[0] : (i[0] + 1) % V, i[1]}); }));
  return out;
}

// An HF config.json for `c` as transformers writes it (only what differs from defaults is
// required; everything is spelled out here).
inline nlohmann::json HfConfigJson(const ModelConfig& c, int64_t extra_vocab_rows = 0) {
  const bool g2 = c.family == "paligemma2";
  nlohmann::json text = {{"model_type", g2 ? "gemma2" : "gemma"},
                         {"hidden_size", c.text.width},
                         {"num_hidden_layers", c.text.depth},
                         {"intermediate_size", c.text.mlp_dim},
                         {"num_attention_heads", c.text.num_heads},
                         {"num_key_value_heads", c.text.num_kv_heads},
                         {"head_dim", c.text.head_dim},
                         {"vocab_size", c.text.vocab_size + extra_vocab_rows},
                         {"rms_norm_eps", c.text.norm_eps},
                         {"rope_theta", c.text.rope_base}};
  if (g2) {
    text["query_pre_attn_scalar"] = c.text.query_pre_attn_scalar;
    text["sliding_window"] = c.text.sliding_window;
    text["attn_logit_softcapping"] = c.text.attn_softcap;
    text["final_logit_softcapping"] = c.text.final_softcap;
  }
  nlohmann::json vision = {{"model_type", "siglip_vision_model"},  {"hidden_size", c.vision.width},
                           {"intermediate_size", c.vision.mlp_dim}, {"num_hidden_layers", c.vision.depth},
                           {"num_attention_heads", c.vision.num_heads}, {"image_size", c.vision.image_size},
                           {"patch_size", c.vision.patch_size},    {"layer_norm_eps", c.vision.norm_eps},
                           {"vision_use_head", false}};
  return {{"model_type", "paligemma"}, {"projection_dim", c.text.width}, {"hidden_size", c.text.width},
          {"image_token_index", c.text.vocab_size - 1}, {"pad_token_id", c.tokens.pad},
          {"bos_token_id", c.tokens.bos}, {"eos_token_id", c.tokens.eos}, {"text_config", text},
          {"vision_config", vision}};
}

}  // namespace pg::testing
