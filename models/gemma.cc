#include "models/gemma.h"

#include <string>

namespace pg {
namespace {

const std::string kLayers = "llm/layers/";

// q_einsum slab [1, heads_local, D, hd] -> [D, heads_local * hd]  (x @ W gives [.., heads, hd]).
std::vector<float> HeadsToColumns(const std::vector<float>& src, int64_t heads, int64_t D, int64_t hd) {
  std::vector<float> dst(src.size());
  for (int64_t n = 0; n < heads; ++n)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t h = 0; h < hd; ++h) dst[d * heads * hd + n * hd + h] = src[(n * D + d) * hd + h];
  return dst;
}

// kv_einsum [L, 2, K, D, H] for this rank: split by kv head when tp divides K; otherwise
// (K < tp, e.g. MQA, or Gemma 2 with 4 kv heads at tp 8) every rank keeps the one kv head its
// query heads use (query head n uses kv head n / (N / K)), as vLLM replicates KV heads.
std::vector<float> KvHeadsForRank(WeightLoader& ld, const TextConfig& t, int layer, std::vector<int64_t>* count) {
  const std::string name = kLayers + "attn/kv_einsum/w";
  const int tp = ld.tp_size(), K = t.num_kv_heads;
  if (K % tp == 0) return ld.LayerHost(name, layer, true, count);
  PG_CHECK(tp % K == 0, "tensor parallel size " << tp << " neither divides nor is a multiple of the " << K
                                                << " kv heads; use a --tp that divides " << t.num_heads);
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
  w.embedding = ld.Rows("llm/embedder/input_embedding", {vocab_local, D}, &w.vocab_offset);
  for (int l = 0; l < t.depth; ++l) {
    const std::string tag = "llm.layer" + std::to_string(l) + ".";
    GemmaLayerWeights L;
    L.pre_attn_norm = ld.Layer(kLayers + "pre_attention_norm/scale", l, false, {D}, tag + "pre_attention_norm");
    L.pre_ffw_norm = ld.Layer(kLayers + "pre_ffw_norm/scale", l, false, {D}, tag + "pre_ffw_norm");
    if (t.post_norms) {
      L.post_attn_norm = ld.Layer(kLayers + "post_attention_norm/scale", l, false, {D}, tag + "post_attention_norm");
      L.post_ffw_norm = ld.Layer(kLayers + "post_ffw_norm/scale", l, false, {D}, tag + "post_ffw_norm");
    }
    // q_einsum [L, N, D, H]: this rank's query heads.
    std::vector<float> q = ld.LayerHost(kLayers + "attn/q_einsum/w", l, true, &count);
    const int64_t heads = count[1];
    L.wq = be.UploadWeight(tag + "wq", {D, heads * hd}, HeadsToColumns(q, heads, D, hd).data());
    // kv_einsum [L, 2, K, D, H]: k = index 0, v = index 1; replicated for MQA.
    std::vector<float> kv = KvHeadsForRank(ld, t, l, &count);
    const int64_t kv_heads = count[2];
    const size_t half = kv.size() / 2;
    L.wk = be.UploadWeight(tag + "wk", {D, kv_heads * hd},
                     HeadsToColumns(std::vector<float>(kv.begin(), kv.begin() + half), kv_heads, D, hd).data());
    L.wv = be.UploadWeight(tag + "wv", {D, kv_heads * hd},
                     HeadsToColumns(std::vector<float>(kv.begin() + half, kv.end()), kv_heads, D, hd).data());
    // attn_vec_einsum [L, N, H, D] is already [heads_local * hd, D] row-major.
    L.wo = ld.Layer(kLayers + "attn/attn_vec_einsum/w", l, true, {heads * hd, D}, tag + "wo");
    // gating_einsum [L, 2, D, F]: [gate | up] side by side -> one GEMM.
    std::vector<float> g = ld.LayerHost(kLayers + "mlp/gating_einsum", l, true, &count);
    const int64_t F = count[3];
    std::vector<float> gu(g.size());
    for (int64_t d = 0; d < D; ++d)
      for (int64_t f = 0; f < F; ++f) {
        gu[d * 2 * F + f] = g[d * F + f];
        gu[d * 2 * F + F + f] = g[(D + d) * F + f];
      }
    L.w_gate_up = be.UploadWeight(tag + "w_gate_up", {D, 2 * F}, gu.data());
    L.w_down = ld.Layer(kLayers + "mlp/linear", l, true, {F, D}, tag + "w_down");
    w.heads_local = static_cast<int>(heads);
    w.kv_heads_local = static_cast<int>(kv_heads);
    w.d_ff_local = static_cast<int>(F);
    w.layers.push_back(std::move(L));
  }
  w.final_norm = ld.Whole("llm/final_norm/scale", {D});
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

Tensor GemmaDecoder::Embed(Backend& be, const std::vector<int>& ids, float scale) {
  Tensor out = be.Alloc("text_embeddings", {static_cast<int64_t>(ids.size()), config_.text.width});
  be.Embed(w_.embedding, ids, w_.vocab_offset, scale, out);
  AllReduce(out);  // each id lives in exactly one rank's vocabulary rows
  return out;
}

std::vector<float> GemmaDecoder::Forward(Backend& be, DecoderStep& step, KvCache& cache, std::vector<float>* hidden) {
  const TextConfig& t = config_.text;
  Tensor& x = step.x;  // [B, T, D]
  const int64_t B = x.dim(0), T = x.dim(1), D = t.width, hd = t.head_dim;
  const int64_t H = w_.heads_local, KH = w_.kv_heads_local, F = w_.d_ff_local;
  CheckShape(x, {B, T, D});
  std::vector<int> positions(B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) positions[b * T + i] = step.mask.q_start[b] + static_cast<int>(i);

  Tensor h = be.Alloc("llm.normed", {B, T, D});
  Tensor q = be.Alloc("llm.q", {B, T, H, hd});
  Tensor k = be.Alloc("llm.k", {B, T, KH, hd});
  Tensor v = be.Alloc("llm.v", {B, T, KH, hd});
  Tensor attn = be.Alloc("llm.attn", {B, T, H, hd});
  Tensor out = be.Alloc("llm.block_out", {B, T, D});
  Tensor gate_up = be.Alloc("llm.gate_up", {B, T, 2 * F});
  Tensor act = be.Alloc("llm.mlp_act", {B, T, F});
  AttentionParams ap;
  ap.scale = t.query_scale();
  ap.softcap = t.attn_softcap;
  if (hidden) hidden->resize(static_cast<size_t>(t.depth + 1) * x.numel());
  auto dump = [&](int i) {
    if (hidden) be.Download(x, hidden->data() + static_cast<size_t>(i) * x.numel());
  };
  dump(0);

  for (int l = 0; l < t.depth; ++l) {
    const GemmaLayerWeights& L = w_.layers[l];
    // GemmaDecoderLayer: h = input_layernorm(x); attention with RoPE on q and k.
    be.RmsNorm(x, L.pre_attn_norm, t.norm_eps, h);
    be.MatMul(h, L.wq, nullptr, q);
    be.MatMul(h, L.wk, nullptr, k);
    be.MatMul(h, L.wv, nullptr, v);
    be.Rope(q, positions, t.rope_base);
    be.Rope(k, positions, t.rope_base);
    be.WriteCache(k, step.mask.q_start, step.count, cache.k[l]);
    be.WriteCache(v, step.mask.q_start, step.count, cache.v[l]);
    AttentionMask mask = step.mask;
    mask.window = t.IsSlidingLayer(l) ? t.sliding_window : 0;
    be.Attention(q, cache.k[l], cache.v[l], mask, ap, attn);
    be.MatMul(attn, L.wo, nullptr, out);  // o_proj: row-parallel
    AllReduce(out);
    if (t.post_norms) be.RmsNorm(out, L.post_attn_norm, t.norm_eps, out);
    be.Add(x, out);
    // MLP: down(gelu_tanh(gate(h)) * up(h)), h = pre_feedforward_layernorm(x).
    be.RmsNorm(x, L.pre_ffw_norm, t.norm_eps, h);
    be.MatMul(h, L.w_gate_up, nullptr, gate_up);
    be.GeGlu(gate_up, act);
    be.MatMul(act, L.w_down, nullptr, out);  // down_proj: row-parallel
    AllReduce(out);
    if (t.post_norms) be.RmsNorm(out, L.post_ffw_norm, t.norm_eps, out);
    be.Add(x, out);
    dump(l + 1);
  }
  be.RmsNorm(x, w_.final_norm, t.norm_eps, h);
  std::vector<int> rows(B);
  for (int64_t b = 0; b < B; ++b) rows[b] = static_cast<int>(b * T + step.last_row[b]);
  return Logits(be, h, rows);
}

std::vector<float> GemmaDecoder::Logits(Backend& be, const Tensor& normed, const std::vector<int>& rows) {
  const int64_t B = rows.size(), D = config_.text.width, Vl = w_.embedding.dim(0), V = config_.text.vocab_size;
  Tensor flat = normed.Reshaped({normed.numel() / D, D});
  Tensor last = be.Alloc("llm.last_hidden", {B, D});
  for (int64_t b = 0; b < B; ++b) be.CopyRows(flat, rows[b], last, b, 1);
  Tensor local = be.Alloc("llm.logits_local", {B, Vl});
  be.MatMulTransB(last, w_.embedding, local);  // tied output embedding
  if (config_.text.final_softcap > 0) be.SoftCap(local, config_.text.final_softcap);
  std::vector<float> logits(B * V);
  if (!tp_.parallel()) {
    be.Download(local, logits.data());
    return logits;
  }
  // Gather the vocabulary shards: [tp, B, Vl] -> [B, V].
  Tensor gathered = be.Alloc("llm.logits_gathered", {tp_.size, B, Vl});
  tp_.comm->AllGather(static_cast<const float*>(local.data), static_cast<float*>(gathered.data),
                      static_cast<size_t>(B * Vl));
  std::vector<float> host(gathered.numel());
  be.Download(gathered, host.data());
  for (int r = 0; r < tp_.size; ++r)
    for (int64_t b = 0; b < B; ++b)
      std::copy(host.begin() + (r * B + b) * Vl, host.begin() + (r * B + b + 1) * Vl, logits.begin() + b * V + r * Vl);
  return logits;
}

}  // namespace pg
