// ContinuousBatcher: the one generation loop of the engine (`generate`, `caption` and `bench`
// all run it). Up to max_batch sequences decode at once, each in its own row ("slot") of one
// preallocated KV cache [max_batch, capacity]. A sequence that finishes (<eos> or
// max_new_tokens) frees its slot at once and waiting requests take free slots, prefilled
// together straight into their rows, instead of the whole batch waiting for its longest
// caption. A decode step computes only the live sequences (AttentionMask::slot maps each to its
// cache row), samples inside the backend (models/token_sampler.h) and allocates nothing: the
// decoder's activations are sized once (GemmaDecoder::Reserve).
//
// Every rank of a tensor-parallel group must make the same calls in the same order with the
// same requests (the image tokens come from the leader's broadcast, on the backend); the sampled tokens are
// computed identically on every rank from the same gathered candidates.
//
//   ContinuousBatcher cb(model, {.max_batch = 64, .max_new_tokens = 32});
//   for (...) cb.Submit(request);
//   while (!cb.idle()) for (auto& r : cb.Step()) write(r);
#pragma once

#include <deque>
#include <vector>

#include "models/kv_cache.h"
#include "models/paligemma.h"
#include "models/token_sampler.h"

namespace pg {

struct GenerationInput {
  std::vector<float> image_tokens;  // [Np, D] projected image tokens (host), or:
  // [Np, D] on the model's backend (a RowSlice of EncodeImagesForGroupOnBackend's tokens),
  // copied device to device into the prefill; used instead of image_tokens when not empty.
  Tensor image_tokens_on_backend;
  std::vector<int> text_ids;        // <bos> prompt "\n"  (Tokenizer::BuildPrompt)
  int64_t seq_id = 0;               // request id and the sampler's random stream
};

struct BatcherOptions {
  int max_batch = 16;          // KV-cache slots (sequences decoding at once)
  int max_new_tokens = 32;
  int max_prompt_tokens = 0;   // text tokens per prompt; 0 = as many as max_seq_len allows
  int max_prefill_tokens = 0;  // tokens (rows) of one batched prefill; 0 = max(4096, one prompt)
  SamplingParams sampling;
  bool keep_logits = false;    // SequenceResult::logits: full-vocabulary logits of every step
  bool keep_logprobs = false;  // SequenceResult::logprobs (--scores; TokenSampler computes them)
  bool keep_hidden = false;    // SequenceResult::prefill_hidden (debugging, parity tests)
  bool ignore_eos = false;     // run every sequence to max_new_tokens (benchmarks)
};

struct SequenceResult {
  int64_t id = 0;
  std::vector<int> tokens;  // generated ids, including <eos> if produced
  bool hit_eos = false;
  int prompt_tokens = 0;    // Np + text tokens
  std::vector<std::vector<float>> logits;  // keep_logits: [steps][vocab]; step 0 = the prefill's
  std::vector<float> logprobs;             // keep_logprobs: [tokens] log p(token) under the model
  std::vector<float> prefill_hidden;       // keep_hidden: [depth + 1, prompt_tokens, D]
};

// Checks that a prompt of `text_tokens` fits the model with `max_new_tokens` after it.
void CheckPromptFits(const ModelConfig& c, size_t text_tokens, int max_new_tokens);

class ContinuousBatcher {
 public:
  ContinuousBatcher(PaliGemma& model, const BatcherOptions& options);

  // Throws pg::Error for a prompt that does not fit (too long) or a malformed request before
  // anything is queued.
  void Submit(GenerationInput input);

  // One engine iteration: Prefill() then Decode(). Returns the sequences that finished.
  std::vector<SequenceResult> Step();
  // Admits waiting requests into free slots (one batched prefill, up to max_prefill_tokens
  // rows) and samples their first token.
  std::vector<SequenceResult> Prefill();
  // One decode step for every live sequence.
  std::vector<SequenceResult> Decode();

  bool idle() const { return waiting_.empty() && active_ == 0; }
  int active() const { return active_; }
  int waiting() const { return static_cast<int>(waiting_.size()); }
  int free_slots() const { return options_.max_batch - active_; }
  int64_t tokens_generated() const { return tokens_generated_; }
  int64_t decode_steps() const { return decode_steps_; }

 private:
  struct Slot {
    bool busy = false;
    int len = 0;          // cache slots used (prompt + fed tokens)
    int next = -1;        // sampled, not yet fed
    SequenceResult result;
  };
  // Records `token` (and the step's logits row) for slot s; returns true when it is finished.
  bool Accept(int s, int token, const float* logits_row);
  SequenceResult Finish(int s);
  std::vector<SequenceResult> SampleAndAccept(const Tensor& logits, const std::vector<int>& slots);

  PaliGemma& model_;
  BatcherOptions options_;
  TokenSampler sampler_;
  KvCache cache_;
  int capacity_ = 0;
  std::vector<Slot> slots_;
  std::deque<GenerationInput> waiting_;
  int active_ = 0;
  int64_t tokens_generated_ = 0, decode_steps_ = 0;
  std::vector<float> step_logits_;    // keep_logits: this step's [B, vocab]
  std::vector<float> step_logprobs_;  // keep_logprobs: this step's [B]
};

}  // namespace pg
