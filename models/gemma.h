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
  Tensor wq;               // [D, heads_local * head_dim]
  Tensor wk, wv;           // [D, kv_heads_local * head_dim]
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
  Tensor x;                   // [batch, seq, D] input embeddings (image tokens unscaled, text scaled)
  AttentionMask mask;         // q_start = first new slot, kv_len, prefix_len per sequence
  std::vector<int> count;     // valid new tokens per sequence (padding beyond)
  std::vector<int> last_row;  // per sequence: the row t whose logits are wanted
};

class GemmaDecoder {
 public:
  GemmaDecoder(const ModelConfig& config, GemmaWeights weights, TpGroup tp);

  // ids -> [ids.size(), D] embeddings * scale (vocab-parallel lookup + all-reduce).
  Tensor Embed(Backend& be, const std::vector<int>& ids, float scale);
  // Runs every layer, appends keys/values to the cache, returns full-vocabulary logits
  // [batch, vocab] (host, identical on every rank) for each sequence's last_row.
  // hidden (optional): host [depth + 1, batch, seq, D] residual stream after each layer.
  std::vector<float> Forward(Backend& be, DecoderStep& step, KvCache& cache, std::vector<float>* hidden = nullptr);

  const GemmaWeights& weights() const { return w_; }
  const TpGroup& tp() const { return tp_; }

 private:
  void AllReduce(Tensor& t);
  std::vector<float> Logits(Backend& be, const Tensor& normed, const std::vector<int>& rows);

  const ModelConfig& config_;
  GemmaWeights w_;
  TpGroup tp_;
};

}  // namespace pg
