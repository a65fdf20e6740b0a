// ContinuousBatcher: keeps up to max_batch sequences decoding at once. Finished sequences
// (<eos> or max_new_tokens) leave their KV-cache slot at once and waiting requests take the
// free slots (prefilled together), instead of the whole batch waiting for its longest caption.
//
// Every rank of a tensor-parallel group must make the same calls in the same order with the
// same requests (the image tokens come from the leader's broadcast); sampled tokens are
// agreed inside (the leader's are broadcast), so every rank returns the same results.
//
//   ContinuousBatcher cb(model, {.max_batch = 64, .max_new_tokens = 32});
//   for (...) cb.Submit(request);
//   while (!cb.idle()) for (auto& r : cb.Step()) write(r);
#pragma once

#include <deque>
#include <vector>

#include "models/generator.h"

namespace pg {

struct BatcherOptions {
  int max_batch = 16;        // KV-cache slots (sequences decoding at once)
  int max_new_tokens = 32;
  int max_prompt_tokens = 0;  // text tokens per prompt; 0 = as many as max_seq_len allows
  SamplingParams sampling;
};

struct SequenceResult {
  int64_t id = 0;
  std::vector<int> tokens;  // generated ids, including <eos> if produced
  bool hit_eos = false;
  int prompt_tokens = 0;
};

class ContinuousBatcher {
 public:
  ContinuousBatcher(PaliGemma& model, const BatcherOptions& options);

  // input.seq_id is the request's id (also its sampler stream). Throws pg::Error for a prompt
  // that does not fit (too long) before anything is queued.
  void Submit(GenerationInput input);

  // One engine iteration: admit waiting requests into free slots (one batched prefill), then
  // one decode step for every active sequence. Returns the sequences that finished.
  std::vector<SequenceResult> Step();

  bool idle() const { return waiting_.empty() && active_ == 0; }
  int active() const { return active_; }
  int waiting() const { return static_cast<int>(waiting_.size()); }
  int free_slots() const { return options_.max_batch - active_; }
  int64_t tokens_generated() const { return tokens_generated_; }

 private:
  struct Slot {
    bool busy = false;
    int64_t id = 0;
    int len = 0;          // cache slots used (prompt + fed tokens)
    int prompt_len = 0;
    int next = -1;        // sampled, not yet fed
    std::vector<int> tokens;
  };
  std::vector<SequenceResult> Admit();
  std::vector<SequenceResult> Decode();
  // Records `token` for slot s; returns true when the sequence is finished.
  bool Accept(int s, int token);
  SequenceResult Finish(int s);

  PaliGemma& model_;
  BatcherOptions options_;
  Sampler sampler_;
  KvCache cache_;
  int capacity_ = 0;
  std::vector<Slot> slots_;
  std::deque<GenerationInput> waiting_;
  int active_ = 0;
  int64_t tokens_generated_ = 0;
};

}  // namespace pg
