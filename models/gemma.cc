#include "models/gemma.h"

#include "models/weight_names.h"

#include <algorithm>
#include <string>

namespace pg {
namespace {

namespace wn = weight_names;

// Reads this rank's query heads (q_einsum [L, N, D, H]) and kv heads (kv_einsum [L, 2, K, D, H])
// of layer l straight into the columns of one fused matrix [D, (heads + 2 kv_heads) * H]:
// [q heads | k heads | v heads], each head's [D, H] slab into its H columns (x @ W then gives
// [.., heads, H] per block). The kv heads are split when tp divides K; otherwise (K < tp, e.g.
// MQA, or Gemma 2 with 4 kv heads at tp 8) every rank keeps the one kv head its query heads
// use (query head n uses kv head n / (N / K)), as vLLM replicates KV heads.
Tensor LoadFusedQkv(WeightLoader& ld, const TextConfig& t, int l, const std::string& tag, int64_t* heads_out,
                    int64_t* kv_heads_out) {
  const int64_t D = t.width, hd = t.head_dim;
  const int tp = ld.tp_size(), K = t.num_kv_heads;
  const Slab q = ld.LayerSlab(wn::kQEinsum, l, true);  // [1, heads, D, H]
  Slab kv;                                              // [1, 2, kv_heads, D, H]
  if (K % tp == 0) {
    kv = ld.LayerSlab(wn::kKvEinsum, l, true);
  } else {  // CheckTensorParallel (PaliGemma's constructor) has checked that tp is a multiple of K.
    kv = ld.LayerSlab(wn::kKvEinsum, l, false);
    kv.start[2] = static_cast<int64_t>(ld.tp_rank()) * K / tp;
    kv.count[2] = 1;
  }
  const int64_t heads = q.count[1], kv_heads = kv.count[2];
  Tensor w = ld.Stage(tag + "wqkv", {D, (heads + 2 * kv_heads) * hd});
  for (int64_t n = 0; n < heads; ++n) {
    Slab head = q;
    head.start[1] += n;
    head.count[1] = 1;
    ld.ReadColumns(wn::kQEinsum, head, w, n * hd);
  }
  for (int64_t part = 0; part < 2; ++part)  // k, v
    for (int64_t j = 0; j < kv_heads; ++j) {
      Slab head = kv;
      head.start[1] = part;
      head.count[1] = 1;
      head.start[2] += j;
      head.count[2] = 1;
      ld.ReadColumns(wn::kKvEinsum, head, w, (heads + part * kv_heads + j) * hd);
    }
  *heads_out = heads;
  *kv_heads_out = kv_heads;
  return ld.Finish(std::move(w));
}

// gating_einsum [L, 2, D, F] (this rank's F columns) -> [gate | up] side by side [D, 2F]: one GEMM.
Tensor LoadFusedGateUp(WeightLoader& ld, int64_t D, int l, const std::string& tag, int64_t* d_ff_out) {
  const Slab g = ld.LayerSlab(wn::kGatingEinsum, l, true);  // [1, 2, D, F]
  const int64_t F = g.count[3];
  Tensor w = ld.Stage(tag + "w_gate_up", {D, 2 * F});
  for (int64_t part = 0; part < 2; ++part) {
    Slab s = g;
    s.start[1] = part;
    s.count[1] = 1;
    ld.ReadColumns(wn::kGatingEinsum, s, w, part * F);
  }
  *d_ff_out = F;
  return ld.Finish(std::move(w));
}

}  // namespace

GemmaWeights LoadGemma(WeightLoader& ld, const ModelConfig& config) {
  const TextConfig& t = config.text;
  const int64_t D = t.width, hd = t.head_dim;
  GemmaWeights w;
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
    // q_einsum and kv_einsum fused into one [D, (heads + 2 kv_heads) * H] matrix: one GEMM.
    int64_t heads = 0, kv_heads = 0, F = 0;
    L.wqkv = LoadFusedQkv(ld, t, l, tag, &heads, &kv_heads);
    // attn_vec_einsum [L, N, H, D] is already [heads_local * hd, D] row-major.
    L.wo = ld.Layer(wn::kAttnVecEinsum, l, true, {heads * hd, D}, tag + "wo");
    L.w_gate_up = LoadFusedGateUp(ld, D, l, tag, &F);
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
  // f32 (Alloc): the residual stream x, the text embeddings, the final hidden row, the logits,
  // and block_out, the row-parallel output (o_proj, down_proj) that tensor parallelism
  // all-reduces: in f32 the sum of the tp partial products differs from the tp 1 product only in
  // the last bits, so tp 1, 2 and 4 give the same tokens; rounded to bf16 per rank (a bf16
  // all-reduce) the tp runs of the emulated-CUDA fixtures drifted by 2% of the largest logit and
  // changed greedy tokens. The rest in the backend's activation precision (CUDA: bf16).
  w.x = be.Alloc("llm.x", {rows, D});
  w.text = be.Alloc("llm.text_embeddings", {rows, D});
  w.normed = be.AllocActivation("llm.normed", {rows, D});
  w.block_out = be.Alloc("llm.block_out", {rows, D});
  w.qkv = be.AllocActivation("llm.qkv", {rows, (H + 2 * KH) * hd});
  w.q = be.AllocActivation("llm.q", {rows, H, hd});
  w.attn = be.AllocActivation("llm.attn", {rows, H, hd});
  w.k = be.AllocActivation("llm.k", {rows, KH, hd});
  w.v = be.AllocActivation("llm.v", {rows, KH, hd});
  w.gate_up = be.AllocActivation("llm.gate_up", {rows, 2 * F});
  w.act = be.AllocActivation("llm.mlp_act", {rows, F});
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
    // q, k, v = one fused projection of h; RoPE on q and k; k, v into the slot's cache row.
    be.MatMul(h, L.wqkv, nullptr, qkv);
    be.SplitQkvRopeToCache(qkv, positions, t.rope_base, mask, step.count, q, k, v, cache.k[l], cache.v[l]);
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
