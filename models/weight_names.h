// The checkpoint dataset names (HDF5 paths = big_vision npz keys without "params/"): spelled
// once here, used by the weight table (models/weight_table.cc, which gives each its shape,
// placement and HF sources) and by the loaders that pick a tensor for a layer's role.
#pragma once

namespace pg::weight_names {

// ---- SigLIP vision tower + projector (leader-only) ----
inline constexpr char kPatchKernel[] = "img/embedding/kernel";
inline constexpr char kPatchBias[] = "img/embedding/bias";
inline constexpr char kPosEmbedding[] = "img/pos_embedding";
inline constexpr char kVitLn0Scale[] = "img/Transformer/encoderblock/LayerNorm_0/scale";
inline constexpr char kVitLn0Bias[] = "img/Transformer/encoderblock/LayerNorm_0/bias";
inline constexpr char kVitLn1Scale[] = "img/Transformer/encoderblock/LayerNorm_1/scale";
inline constexpr char kVitLn1Bias[] = "img/Transformer/encoderblock/LayerNorm_1/bias";
inline constexpr char kVitQueryKernel[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/query/kernel";
inline constexpr char kVitQueryBias[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/query/bias";
inline constexpr char kVitKeyKernel[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/key/kernel";
inline constexpr char kVitKeyBias[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/key/bias";
inline constexpr char kVitValueKernel[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/value/kernel";
inline constexpr char kVitValueBias[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/value/bias";
inline constexpr char kVitOutKernel[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/out/kernel";
inline constexpr char kVitOutBias[] = "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/out/bias";
inline constexpr char kVitFc1Kernel[] = "img/Transformer/encoderblock/MlpBlock_0/Dense_0/kernel";
inline constexpr char kVitFc1Bias[] = "img/Transformer/encoderblock/MlpBlock_0/Dense_0/bias";
inline constexpr char kVitFc2Kernel[] = "img/Transformer/encoderblock/MlpBlock_0/Dense_1/kernel";
inline constexpr char kVitFc2Bias[] = "img/Transformer/encoderblock/MlpBlock_0/Dense_1/bias";
inline constexpr char kVitNormScale[] = "img/Transformer/encoder_norm/scale";
inline constexpr char kVitNormBias[] = "img/Transformer/encoder_norm/bias";
inline constexpr char kProjectorKernel[] = "img/head/kernel";
inline constexpr char kProjectorBias[] = "img/head/bias";

// ---- Gemma decoder ----
inline constexpr char kEmbedding[] = "llm/embedder/input_embedding";  // tied with the LM head
inline constexpr char kQEinsum[] = "llm/layers/attn/q_einsum/w";
inline constexpr char kKvEinsum[] = "llm/layers/attn/kv_einsum/w";
inline constexpr char kAttnVecEinsum[] = "llm/layers/attn/attn_vec_einsum/w";
inline constexpr char kGatingEinsum[] = "llm/layers/mlp/gating_einsum";
inline constexpr char kMlpLinear[] = "llm/layers/mlp/linear";
inline constexpr char kPreAttentionNorm[] = "llm/layers/pre_attention_norm/scale";
inline constexpr char kPreFfwNorm[] = "llm/layers/pre_ffw_norm/scale";
inline constexpr char kPostAttentionNorm[] = "llm/layers/post_attention_norm/scale";
inline constexpr char kPostFfwNorm[] = "llm/layers/post_ffw_norm/scale";
inline constexpr char kFinalNorm[] = "llm/final_norm/scale";

}  // namespace pg::weight_names
