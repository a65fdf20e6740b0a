// Gemma / Gemma 2 decoder over the big_vision stacked weights, tensor-parallel by attention
// heads and MLP columns: each rank holds heads_local = heads / tp query heads, its share of
// the MLP columns and of the vocabulary; the (MQA) KV heads are replicated when they cannot
// be split. Row-parallel outputs (attention out, MLP down) are summed with one all-reduce each.
#pragma once

#include <vector>

#include "models/kv_cache.h"
#include "models/model_config.h"
#include "models/tp_group.h"
#include "models/weight_loader.h"
#include "runtime/backend.h"

namespace pg {

struct GemmaLayerWeights {
  Tensor pre_attn_norm;    // [D]
  Tensor wqkv;             // [D, (heads_local + 2 kv_heads_local) * head_dim]  columns [q | k | v]
  Tensor wo;               // [heads_local * head_dim, D]   row-parallel
  Tensor post_attn_norm;   // [D] (Gemma 2)
  Tensor pre_ffw_norm;     // [D]
  Tensor w_gate_up;        // [D, 2 * d_ff_local]  columns: [gate | up]
  Tensor w_down;           // [d_ff_local, D]              row-parallel
  Tensor post_ffw_norm;    // [D] (Gemma 2)
};

struct GemmaWeights {
  Tensor embedding;        // [vocab_local, D]  rows [vocab_offset, vocab_offset + vocab_local)
  int64_t vocab_offset = 0;
  std::vector<GemmaLayerWeights> layers;
  Tensor final_norm;       // [D]
  int heads_local = 0, kv_heads_local = 0, d_ff_local = 0;
};

GemmaWeights LoadGemma(WeightLoader& loader, const ModelConfig& config);

// One forward step over new tokens of a batch of sequences.
struct DecoderStep {
  Tensor x;                   // [batch, seq, D] input embeddings (image tokens unscaled, text scaled),
                              // a view of Workspace().x (filled by the caller)
  AttentionMask mask;         // slot = cache row, q_start = first new slot, kv_len, prefix_len per sequence
  std::vector<int> count;     // valid new tokens per sequence (padding beyond)
  std::vector<int> last_row;  // per sequence: the row t whose logits are wanted
};

// The activations of a step, allocated once (Reserve) for the largest step and viewed with
// Tensor::Prefix by smaller ones: a decode step allocates nothing.
struct DecoderWorkspace {
  int64_t rows = 0, batch = 0;  // capacity: tokens per step, sequences per step
  Tensor x, text;               // [rows, D] residual stream; text embeddings of a prefill
  Tensor normed, block_out;     // [rows, D]
  Tensor qkv;                   // [rows, (heads_local + 2 kv_heads_local) * head_dim]
  Tensor q, attn;               // [rows, heads_local, head_dim]
  Tensor k, v;                  // [rows, kv_heads_local, head_dim]
  Tensor gate_up;               // [rows, 2 d_ff_local]
  Tensor act;                   // [rows, d_ff_local]
  Tensor last;                  // [batch, D] final-normed hidden state of each sequence's last row
  Tensor logits;                // [batch, vocab_local]
};

class GemmaDecoder {
 public:
  GemmaDecoder(const ModelConfig& config, GemmaWeights weights, TpGroup tp);

  // Sizes the workspace for steps of up to `rows` tokens over up to `batch` sequences (grows
  // it when larger than before; a no-op otherwise).
  void Reserve(Backend& be, int64_t rows, int64_t batch);
  DecoderWorkspace& Workspace() { return ws_; }

  // ids -> out[ids.size(), D] = embeddings * scale (vocab-parallel lookup + all-reduce).
  void EmbedInto(Backend& be, const std::vector<int>& ids, float scale, Tensor& out);
  // Runs every layer, appends keys/values to the cache rows mask.slot, and returns this rank's
  // vocabulary shard of the logits at each sequence's last_row: a view of Workspace().logits,
  // [batch, vocab_local], columns = vocabulary rows [vocab_offset, vocab_offset + vocab_local).
  // hidden (optional): host [depth + 1, batch, seq, D] residual stream after each layer.
  Tensor Forward(Backend& be, DecoderStep& step, KvCache& cache, std::vector<float>* hidden = nullptr);

  const GemmaWeights& weights() const { return w_; }
  const TpGroup& tp() const { return tp_; }

 private:
  void AllReduce(Tensor& t);

  const ModelConfig& config_;
  GemmaWeights w_;
  TpGroup tp_;
  DecoderWorkspace ws_;
};

}  // namespace pg
