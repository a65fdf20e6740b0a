// HfTensorMap (declared in io/hf_import.h): every HF PaliGemma tensor name -> the slab of the
// big_vision dataset it fills and the transform, following transformers'
// convert_paligemma_weights_to_hf.py / convert_paligemma2_weights_to_hf.py in reverse
// (MODEL_FACTS 3.2 and 4).
#include <string>

#include "io/hf_import.h"
#include "models/weight_table.h"
#include "runtime/check.h"

namespace pg {
namespace {

class MapBuilder {
 public:
  explicit MapBuilder(const ModelConfig& c) : table_(WeightTable(c)) {}

  // Fills the whole dataset.
  HfTensorTarget& Whole(const std::string& hf, const std::string& dataset, std::vector<int64_t> hf_shape) {
    const WeightSpec& s = FindWeight(table_, dataset);
    return Add(hf, dataset, std::vector<int64_t>(s.shape.size(), 0), s.shape, std::move(hf_shape));
  }
  // Fills layer `layer` of a stacked dataset; `sub` >= 0 also fixes axis 1 (kv / gate-up).
  HfTensorTarget& Layer(const std::string& hf, const std::string& dataset, int64_t layer,
                        std::vector<int64_t> hf_shape, int64_t sub = -1) {
    const WeightSpec& s = FindWeight(table_, dataset);
    std::vector<int64_t> start(s.shape.size(), 0), count = s.shape;
    start[0] = layer;
    count[0] = 1;
    if (sub >= 0) {
      start[1] = sub;
      count[1] = 1;
    }
    return Add(hf, dataset, std::move(start), std::move(count), std::move(hf_shape));
  }
  std::map<std::string, HfTensorTarget> Take() { return std::move(map_); }

 private:
  HfTensorTarget& Add(const std::string& hf, const std::string& dataset, std::vector<int64_t> start,
                      std::vector<int64_t> count, std::vector<int64_t> hf_shape) {
    HfTensorTarget t;
    t.dataset = dataset;
    t.start = std::move(start);
    t.count = std::move(count);
    t.hf_shape = std::move(hf_shape);
    return map_[hf] = std::move(t);
  }
  std::vector<WeightSpec> table_;
  std::map<std::string, HfTensorTarget> map_;
};

HfTensorTarget& Transposed(HfTensorTarget& t) {  // src [R, C] -> dst [C, R]
  t.transform = HfTransform::kTranspose;
  t.rows = t.hf_shape[0];
  t.cols = t.hf_shape[1];
  return t;
}

HfTensorTarget& Heads(HfTensorTarget& t, int64_t head_dim) {  // src [G*H, D] -> dst [G, D, H]
  t.transform = HfTransform::kHeadsToGDH;
  t.rows = t.hf_shape[0];
  t.cols = t.hf_shape[1];
  t.head_dim = head_dim;
  return t;
}

void AddVision(const ModelConfig& c, MapBuilder& m) {
  const VisionConfig& v = c.vision;
  const int64_t Dv = v.width, Nv = v.num_heads, Hv = v.head_dim(), Fv = v.mlp_dim, P = v.patch_size;
  const std::string vm = "vision_tower.vision_model.";
  m.Whole(vm + "embeddings.patch_embedding.weight", "img/embedding/kernel", {Dv, 3, P, P}).transform =
      HfTransform::kPatchEmbed;
  m.Whole(vm + "embeddings.patch_embedding.bias", "img/embedding/bias", {Dv});
  m.Whole(vm + "embeddings.position_embedding.weight", "img/pos_embedding", {v.num_patches(), Dv});
  const std::string blk = "img/Transformer/encoderblock/";
  const std::string mha = blk + "MultiHeadDotProductAttention_0/";
  for (int64_t l = 0; l < v.depth; ++l) {
    const std::string p = vm + "encoder.layers." + std::to_string(l) + ".";
    m.Layer(p + "layer_norm1.weight", blk + "LayerNorm_0/scale", l, {Dv});
    m.Layer(p + "layer_norm1.bias", blk + "LayerNorm_0/bias", l, {Dv});
    m.Layer(p + "layer_norm2.weight", blk + "LayerNorm_1/scale", l, {Dv});
    m.Layer(p + "layer_norm2.bias", blk + "LayerNorm_1/bias", l, {Dv});
    const std::pair<const char*, const char*> qkv[] = {{"q_proj", "query"}, {"k_proj", "key"}, {"v_proj", "value"}};
    for (const auto& [hf, bv] : qkv) {
      // kernel[l]: [Dv, Nv, Hv]; HF weight = kernel[l].reshape(Dv, Nv*Hv).T
      Transposed(m.Layer(p + "self_attn." + hf + ".weight", mha + bv + "/kernel", l, {Nv * Hv, Dv}));
      m.Layer(p + "self_attn." + hf + ".bias", mha + bv + "/bias", l, {Nv * Hv});
    }
    // out kernel[l]: [Nv, Hv, Dv]; HF weight = kernel[l].reshape(Nv*Hv, Dv).T
    Transposed(m.Layer(p + "self_attn.out_proj.weight", mha + "out/kernel", l, {Dv, Nv * Hv}));
    m.Layer(p + "self_attn.out_proj.bias", mha + "out/bias", l, {Dv});
    Transposed(m.Layer(p + "mlp.fc1.weight", blk + "MlpBlock_0/Dense_0/kernel", l, {Fv, Dv}));
    m.Layer(p + "mlp.fc1.bias", blk + "MlpBlock_0/Dense_0/bias", l, {Fv});
    Transposed(m.Layer(p + "mlp.fc2.weight", blk + "MlpBlock_0/Dense_1/kernel", l, {Dv, Fv}));
    m.Layer(p + "mlp.fc2.bias", blk + "MlpBlock_0/Dense_1/bias", l, {Dv});
  }
  m.Whole(vm + "post_layernorm.weight", "img/Transformer/encoder_norm/scale", {Dv});
  m.Whole(vm + "post_layernorm.bias", "img/Transformer/encoder_norm/bias", {Dv});
  Transposed(m.Whole("multi_modal_projector.linear.weight", "img/head/kernel", {c.text.width, Dv}));
  m.Whole("multi_modal_projector.linear.bias", "img/head/bias", {c.text.width});
}

void AddText(const ModelConfig& c, MapBuilder& m) {
  const TextConfig& t = c.text;
  const int64_t N = t.num_heads, K = t.num_kv_heads, D = t.width, H = t.head_dim, F = t.mlp_dim;
  const std::string lm = "language_model.model.";
  m.Whole(lm + "embed_tokens.weight", "llm/embedder/input_embedding", {t.vocab_size, D}).extra_rows_ok = true;
  for (int64_t l = 0; l < t.depth; ++l) {
    const std::string p = lm + "layers." + std::to_string(l) + ".";
    // q_proj = q_einsum[l].transpose(0, 2, 1).reshape(N*H, D)
    Heads(m.Layer(p + "self_attn.q_proj.weight", "llm/layers/attn/q_einsum/w", l, {N * H, D}), H);
    // k_proj / v_proj = kv_einsum[l, 0 / 1] ([K, D, H]) -> [K*H, D]
    Heads(m.Layer(p + "self_attn.k_proj.weight", "llm/layers/attn/kv_einsum/w", l, {K * H, D}, 0), H);
    Heads(m.Layer(p + "self_attn.v_proj.weight", "llm/layers/attn/kv_einsum/w", l, {K * H, D}, 1), H);
    // o_proj [D, N*H] = attn_vec_einsum[l] ([N, H, D]) -> transpose(2, 0, 1)
    Transposed(m.Layer(p + "self_attn.o_proj.weight", "llm/layers/attn/attn_vec_einsum/w", l, {D, N * H}));
    Transposed(m.Layer(p + "mlp.gate_proj.weight", "llm/layers/mlp/gating_einsum", l, {F, D}, 0));
    Transposed(m.Layer(p + "mlp.up_proj.weight", "llm/layers/mlp/gating_einsum", l, {F, D}, 1));
    Transposed(m.Layer(p + "mlp.down_proj.weight", "llm/layers/mlp/linear", l, {D, F}));
    m.Layer(p + "input_layernorm.weight", "llm/layers/pre_attention_norm/scale", l, {D});
    if (t.post_norms) {  // Gemma 2 names each of its four norms
      m.Layer(p + "post_attention_layernorm.weight", "llm/layers/post_attention_norm/scale", l, {D});
      m.Layer(p + "pre_feedforward_layernorm.weight", "llm/layers/pre_ffw_norm/scale", l, {D});
      m.Layer(p + "post_feedforward_layernorm.weight", "llm/layers/post_ffw_norm/scale", l, {D});
    } else {  // Gemma 1 trap: HF "post_attention_layernorm" is big_vision's pre_ffw_norm
      m.Layer(p + "post_attention_layernorm.weight", "llm/layers/pre_ffw_norm/scale", l, {D});
    }
  }
  m.Whole(lm + "norm.weight", "llm/final_norm/scale", {D});
}

}  // namespace

std::map<std::string, HfTensorTarget> HfTensorMap(const ModelConfig& c) {
  MapBuilder m(c);
  AddVision(c, m);
  AddText(c, m);
  return m.Take();
}

}  // namespace pg
