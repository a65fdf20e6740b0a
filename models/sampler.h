// Sampler: picks the next token of each sequence from the last position's logits.
//
// Modes (big_vision predict_fns samplers `greedy`, `temperature(t)`, `nucleus(p)`; HF's
// temperature -> top_k -> top_p warper order):
//   temperature == 0            greedy: argmax, the lowest index wins ties (top_k/top_p ignored)
//   temperature  > 0            softmax(logits / temperature), then
//     top_k > 0                 keep the k largest logits (ties broken by lower index)
//     top_p < 1                 keep the smallest prefix of the remaining tokens, sorted by
//                               descending probability, whose mass is >= top_p (at least one)
//                               and sample from the renormalised kept set.
//
// Determinism: the random number for a draw is CounterUniform(seed, seq_id, step)
// (models/counter_rng.h), and candidates are ordered by (logit desc, index asc), a strict total
// order. The choice for a sequence therefore depends only on (its logits, seed, seq_id, step):
// not on the batch it is in, the rank, the thread or the run. Pass the same global seq_ids on
// every rank (e.g. the example's index in the whole request).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

struct SamplingParams {
  float temperature = 0.f;  // 0 = greedy
  int top_k = 0;            // 0 = off
  float top_p = 1.f;        // 1 = off; must be in (0, 1]
  uint64_t seed = 0;

  bool greedy() const { return temperature == 0.f; }
  // Throws pg::Error naming the bad field and value.
  void Validate() const;
  std::string ToString() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);  // validates params

  // logits: [batch, vocab] fp32, row-major -> [batch] token ids in [0, vocab).
  // seq_ids: [batch] stable ids of the sequences (default: 0..batch-1); step: decode step.
  // Throws pg::Error if a row contains NaN or +inf, or is all -inf (-inf = masked out).
  std::vector<int> Sample(const float* logits, int batch, int vocab, int64_t step,
                          const std::vector<int64_t>& seq_ids = {}) const;

  // logits: [vocab] -> token id for sequence `seq_id` at decode step `step`.
  int SampleOne(const float* logits, int vocab, int64_t seq_id, int64_t step) const;

  // How many candidates, taken in (logit desc, index asc) order from the whole vocabulary, decide
  // the draw: 1 for greedy, top_k when 0 < top_k < vocab. 0: the draw needs the whole row.
  int CandidatesNeeded(int vocab) const;
  // The draw from the first CandidatesNeeded(vocab) candidates of a row, in (logit desc, index
  // asc) order (values[j] = logit of token ids[j]): the same token SampleOne returns for that row.
  // Throws like SampleOne when values[0] is NaN or +inf, or -inf (every logit masked).
  int SampleCandidates(const float* values, const int* ids, int n, int64_t seq_id, int64_t step) const;

  // logits: [vocab] -> the tokens this sampler can draw (non-zero probability after
  // temperature, top-k and top-p), ascending. Greedy: {argmax}. For tests and debugging.
  std::vector<int> Support(const float* logits, int vocab) const;

  const SamplingParams& params() const { return params_; }

 private:
  // Kept tokens and their unnormalised probabilities, in a deterministic order.
  struct Candidates {
    std::vector<int> ids;
    std::vector<double> weights;  // aligned with ids
  };
  Candidates Warp(const float* logits, int vocab, float max_logit) const;
  // The inverse-CDF draw over `c` for (seq_id, step); `fallback` if rounding leaves none.
  int Draw(const Candidates& c, int64_t seq_id, int64_t step, int fallback) const;

  SamplingParams params_;
};

// logits: [vocab] -> index of the largest value, lowest index on ties.
int ArgMax(const float* logits, int vocab);

}  // namespace pg
