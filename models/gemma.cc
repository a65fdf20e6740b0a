#include "models/gemma.h"

#include "models/weight_names.h"

#include <algorithm>
#include <string>

namespace pg {
namespace {

namespace wn = weight_names;

// An einsum slab [heads, D, hd] placed as columns [col0, col0 + heads * hd) of dst [D, width]
// (x @ W then gives [.., heads, hd] in those columns).
void PlaceHeads(const float* src, int64_t heads, int64_t D, int64_t hd, int64_t width, int64_t col0, float* dst) {
  for (int64_t n = 0; n < heads; ++n)
    for (int64_t d = 0; d < D; ++d)
      std::copy(src + (n * D + d) * hd, src + (n * D + d + 1) * hd, dst + d * width + col0 + n * hd);
}

// kv_einsum [L, 2, K, D, H] for this rank: split by kv head when tp divides K; otherwise
// (K < tp, e.g. MQA, or Gemma 2 with 4 kv heads at tp 8) every rank keeps the one kv head its
// query heads use (query head n uses kv head n / (N / K)), as vLLM replicates KV heads.
std::vector<float> KvHeadsForRank(WeightLoader& ld, const TextConfig& t, int layer, std::vector<int64_t>* count) {
  const std::string name = wn::kKvEinsum;
  const int tp = ld.tp_size(), K = t.num_kv_heads;
  if (K % tp == 0) return ld.LayerHost(name, layer, true, count);
  // CheckTensorParallel (PaliGemma's constructor) has checked that tp is a multiple of K here.
  std::vector<float> all = ld.LayerHost(name, layer, false, count);  // [1, 2, K, D, H]
  const int64_t per_head = (*count)[3] * (*count)[4];
  const int64_t head = static_cast<int64_t>(ld.tp_rank()) * K / tp;
  std::vector<float> mine(2 * per_head);
  for (int kv = 0; kv < 2; ++kv)
    std::copy(all.begin() + (kv * K + head) * per_head, all.begin() + (kv * K + head + 1) * per_head,
              mine.begin() + kv * per_head);
  (*count)[2] = 1;
  return mine;
}

}  // namespace

GemmaWeights LoadGemma(WeightLoader& ld, const ModelConfig& config) {
  const TextConfig& t = config.text;
  const int64_t D = t.width, hd = t.head_dim;
  Backend& be = ld.backend();
  GemmaWeights w;
  std::vector<int64_t> count;
  const int64_t vocab_local = t.vocab_size / ld.tp_size();
  w.embedding = ld.Rows(wn::kEmbedding, {vocab_local, D}, &w.vocab_offset);
  for (int l = 0; l < t.depth; ++l) {
    const std::string tag = "llm.layer" + std::to_string(l) + ".";
    GemmaLayerWeights L;
    L.pre_attn_norm = ld.Layer(wn::kPreAttentionNorm, l, false, {D}, tag + "pre_attention_norm");
    L.pre_ffw_norm = ld.Layer(wn::kPreFfwNorm, l, false, {D}, tag + "pre_ffw_norm");
    if (t.post_norms) {
      L.post_attn_norm = ld.Layer(wn::kPostAttentionNorm, l, false, {D}, tag + "post_attention_norm");
      L.post_ffw_norm = ld.Layer(wn::kPostFfwNorm, l, false, {D}, tag + "post_ffw_norm");
    }
    // q_einsum [L, N, D, H] (this rank's query heads) and kv_einsum [L, 2, K, D, H] (its kv
    // heads; replicated for MQA) fused into one [D, (heads + 2 kv_heads) * H] matrix: one GEMM.
    std::vector<float> q = ld.LayerHost(wn::kQEinsum, l, true, &count);
    const int64_t heads = count[1];
    std::vector<float> kv = KvHeadsForRank(ld, t, l, &count);
    const int64_t kv_heads = count[2];
    const int64_t width = (heads + 2 * kv_heads) * hd;
    std::vector<float> qkv(static_cast<size_t>(D * width));
    const size_t half = kv.size() / 2;
    PlaceHeads(q.data(), heads, D, hd, width, 0, qkv.data());
    PlaceHeads(kv.data(), kv_heads, D, hd, width, heads * hd, qkv.data());
    PlaceHeads(kv.data() + half, kv_heads, D, hd, width, (heads + kv_heads) * hd, qkv.data());
    L.wqkv = be.UploadWeight(tag + "wqkv", {D, width}, qkv.data());
    // attn_vec_einsum [L, N, H, D] is already [heads_local * hd, D] row-major.
    L.wo = ld.Layer(wn::kAttnVecEinsum, l, true, {heads * hd, D}, tag + "wo");
    // gating_einsum [L, 2, D, F]: [gate | up] side by side -> one GEMM.
    std::vector<float> g = ld.LayerHost(wn::kGatingEinsum, l, true, &count);
    const int64_t F = count[3];
    std::vector<float> gu(g.size());
    for (int64_t d = 0; d < D; ++d)
      for (int64_t f = 0; f < F; ++f) {
        gu[d * 2 * F + f] = g[d * F + f];
        gu[d * 2 * F + F + f] = g[(D + d) * F + f];
      }
    L.w_gate_up = be.UploadWeight(tag + "w_gate_up", {D, 2 * F}, gu.data());
    L.w_down = ld.Layer(wn::kMlpLinear, l, true, {F, D}, tag + "w_down");
    w.heads_local = static_cast<int>(heads);
    w.kv_heads_local = static_cast<int>(kv_heads);
    w.d_ff_local = static_cast<int>(F);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = ld.Whole(wn::kFinalNorm, {D});
  return w;
}

GemmaDecoder::GemmaDecoder(const ModelConfig& config, GemmaWeights weights, TpGroup tp)
    : config_(config), w_(std::move(weights)), tp_(tp) {}

void GemmaDecoder::AllReduce(Tensor& t) {
  if (!tp_.parallel()) return;
  if (t.dtype == DType::kBF16) {
    tp_.comm->AllReduceSumBf16(t.data, static_cast<size_t>(t.numel()));
  } else {
    tp_.comm->AllReduceSum(static_cast<float*>(t.data), static_cast<size_t>(t.numel()));
  }
}

void GemmaDecoder::Reserve(Backend& be, int64_t rows, int64_t batch) {
  if (rows <= ws_.rows && batch <= ws_.batch) return;
  rows = std::max(rows, ws_.rows);
  batch = std::max(batch, ws_.batch);
  const TextConfig& t = config_.text;
  const int64_t D = t.width, hd = t.head_dim, H = w_.heads_local, KH = w_.kv_heads_local, F = w_.d_ff_local;
  DecoderWorkspace w;
  w.rows = rows;
  w.batch = batch;
  w.x = be.Alloc("llm.x", {rows, D});
  w.text = be.Alloc("llm.text_embeddings", {rows, D});
  w.normed = be.Alloc("llm.normed", {rows, D});
  w.block_out = be.Alloc("llm.block_out", {rows, D});
  w.qkv = be.Alloc("llm.qkv", {rows, (H + 2 * KH) * hd});
  w.q = be.Alloc("llm.q", {rows, H, hd});
  w.attn = be.Alloc("llm.attn", {rows, H, hd});
  w.k = be.Alloc("llm.k", {rows, KH, hd});
  w.v = be.Alloc("llm.v", {rows, KH, hd});
  w.gate_up = be.Alloc("llm.gate_up", {rows, 2 * F});
  w.act = be.Alloc("llm.mlp_act", {rows, F});
  w.last = be.Alloc("llm.last_hidden", {batch, D});
  w.logits = be.Alloc("llm.logits_local", {batch, w_.embedding.dim(0)});
  ws_ = std::move(w);
}

void GemmaDecoder::EmbedInto(Backend& be, const std::vector<int>& ids, float scale, Tensor& out) {
  be.Embed(w_.embedding, ids, w_.vocab_offset, scale, out);
  AllReduce(out);  // each id lives in exactly one rank's vocabulary rows
}

Tensor GemmaDecoder::Forward(Backend& be, DecoderStep& step, KvCache& cache, std::vector<float>* hidden) {
  const TextConfig& t = config_.text;
  Tensor& x = step.x;  // [B, T, D]
  const int64_t B = x.dim(0), T = x.dim(1), D = t.width, hd = t.head_dim;
  const int64_t H = w_.heads_local, KH = w_.kv_heads_local, F = w_.d_ff_local, Vl = w_.embedding.dim(0);
  CheckShape(x, {B, T, D});
  PG_CHECK(B * T <= ws_.rows && B <= ws_.batch, "decoder step of " << B << " x " << T << " tokens exceeds the workspace ("
                                                                     << ws_.batch << " sequences, " << ws_.rows << " rows)");
  std::vector<int> positions(B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) positions[b * T + i] = step.mask.q_start[b] + static_cast<int>(i);

  Tensor h = ws_.normed.Prefix({B, T, D});
  Tensor qkv = ws_.qkv.Prefix({B, T, (H + 2 * KH) * hd});
  Tensor q = ws_.q.Prefix({B, T, H, hd});
  Tensor k = ws_.k.Prefix({B, T, KH, hd});
  Tensor v = ws_.v.Prefix({B, T, KH, hd});
  Tensor attn = ws_.attn.Prefix({B, T, H, hd});
  Tensor out = ws_.block_out.Prefix({B, T, D});
  Tensor gate_up = ws_.gate_up.Prefix({B, T, 2 * F});
  Tensor act = ws_.act.Prefix({B, T, F});
  AttentionParams ap;
  ap.scale = t.query_scale();
  ap.softcap = t.attn_softcap;
  if (hidden) hidden->resize(static_cast<size_t>(t.depth + 1) * x.numel());
  auto dump = [&](int i) {
    if (hidden) be.Download(x, hidden->data() + static_cast<size_t>(i) * x.numel());
  };
  dump(0);

  AttentionMask mask = step.mask;
  Tensor last = ws_.last.Prefix({B, D});
  // GemmaDecoderLayer: h = input_layernorm(x) (for later layers fused with the residual add before it).
  if (t.depth > 0) be.RmsNorm(x, w_.layers[0].pre_attn_norm, t.norm_eps, h);
  for (int l = 0; l < t.depth; ++l) {
    const GemmaLayerWeights& L = w_.layers[l];
    // q, k, v = one fused projection of h; RoPE on q and k.
    be.MatMul(h, L.wqkv, nullptr, qkv);
    be.SplitQkvRope(qkv, positions, t.rope_base, q, k, v);
    be.WriteCache(k, mask, step.count, cache.k[l]);
    be.WriteCache(v, mask, step.count, cache.v[l]);
    mask.window = t.IsSlidingLayer(l) ? t.sliding_window : 0;
    be.Attention(q, cache.k[l], cache.v[l], mask, ap, attn);
    be.MatMul(attn, L.wo, nullptr, out);  // o_proj: row-parallel
    AllReduce(out);
    if (t.post_norms) be.RmsNorm(out, L.post_attn_norm, t.norm_eps, out);
    // x = x + attn; h = pre_feedforward_layernorm(x), in one pass.
    be.AddRmsNorm(x, out, L.pre_ffw_norm, t.norm_eps, h);
    // MLP: down(gelu_tanh(gate(h)) * up(h)).
    be.MatMul(h, L.w_gate_up, nullptr, gate_up);
    be.GeGlu(gate_up, act);
    be.MatMul(act, L.w_down, nullptr, out);  // down_proj: row-parallel
    AllReduce(out);
    if (t.post_norms) be.RmsNorm(out, L.post_ffw_norm, t.norm_eps, out);
    // x = x + mlp, fused with the next norm: the next layer's input_layernorm, or for a decode
    // step (one row per sequence) the final norm straight into `last`.
    if (l + 1 < t.depth)
      be.AddRmsNorm(x, out, w_.layers[l + 1].pre_attn_norm, t.norm_eps, h);
    else if (T == 1)
      be.AddRmsNorm(x, out, w_.final_norm, t.norm_eps, last);
    else
      be.Add(x, out);
    dump(l + 1);
  }
  // norm(x) at each sequence's last row (decode: done above), then the tied LM head on this
  // rank's vocabulary rows.
  if (t.depth == 0 && T == 1) {
    be.RmsNorm(x, w_.final_norm, t.norm_eps, last);
  } else if (T > 1) {
    Tensor flat = x.Reshaped({B * T, D});
    for (int64_t b = 0; b < B; ++b) be.CopyRows(flat, b * T + step.last_row[b], last, b, 1);
    be.RmsNorm(last, w_.final_norm, t.norm_eps, last);
  }
  Tensor logits = ws_.logits.Prefix({B, Vl});
  be.MatMulTransB(last, w_.embedding, logits);
  if (t.final_softcap > 0) be.SoftCap(logits, t.final_softcap);
  return logits;
}

}  // namespace pg
