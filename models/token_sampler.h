// TokenSampler: the next token of every sequence from this rank's vocabulary-parallel logits,
// without moving the logits off the backend.
//
//   greedy / top-k (0 < k < vocab): Backend::TopK on this rank's shard [B, vocab_local] -> k
//     (value, global id) pairs per row; under TP the group all-gathers only those pairs
//     (tp x B x k x 8 bytes) and every rank merges them in (value desc, id asc) order: the
//     global top-k, since each rank's top-k contains the global top-k's members from its shard.
//     Sampler::SampleCandidates then draws with the counter-based seed. Every rank computes the
//     same token from the same gathered pairs, so no broadcast is needed.
//   temperature without top-k (or top_k >= vocab): the draw needs the whole distribution, so the
//     full row is gathered (as vLLM gathers logits for sampling) and Sampler::SampleOne draws.
//   log-probabilities (--scores): log softmax of the model's logits (after Gemma 2's final
//     soft-cap, before temperature / top-k / top-p, as vLLM reports them) at the chosen token:
//     its logit (one of the candidates) minus the row's log-sum-exp. Each rank computes
//     Backend::RowLogSumExp over its shard; the [B] values ride in the candidates' all-gather and
//     combine as log(sum_r exp(lse_r)).
#pragma once

#include <cstdint>
#include <vector>

#include "models/sampler.h"
#include "models/tp_group.h"
#include "runtime/backend.h"

namespace pg {

// local: [B, vocab_local] this rank's logits (vocabulary rows [offset, offset + vocab_local)) ->
// host [B, vocab] full logits, identical on every rank (an all-gather under TP).
std::vector<float> GatherVocabShards(Backend& be, const TpGroup& tp, const Tensor& local, int vocab);

class TokenSampler {
 public:
  TokenSampler(const SamplingParams& params, int vocab) : sampler_(params), vocab_(vocab) {}

  // local: [B, vocab_local] at vocab_offset -> [B] token ids. seq_ids, steps: [B] (the sampler's
  // random stream of each row).
  // full_rows (optional): the rows' full-vocabulary logits [B, vocab] on the host, when the caller
  // has already gathered them (--logits-out): used instead of gathering them again.
  // logprobs (optional): gets [B] log-probabilities of the returned tokens.
  std::vector<int> Next(Backend& be, const TpGroup& tp, const Tensor& local, int64_t vocab_offset,
                        const std::vector<int64_t>& seq_ids, const std::vector<int64_t>& steps,
                        const std::vector<float>* full_rows = nullptr, std::vector<float>* logprobs = nullptr);

  const Sampler& sampler() const { return sampler_; }

 private:
  Sampler sampler_;
  int vocab_;
  std::vector<float> values_, gathered_, lse_;  // reused host buffers
  std::vector<int> ids_;
};

}  // namespace pg
