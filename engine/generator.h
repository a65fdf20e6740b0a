// Generator: a whole batch of requests through the one generation loop (ContinuousBatcher),
// returned in input order. `generate`, the HF parity tests and the tensor-parallel tests use it;
// with max_batch below the batch size, later requests take the slots of finished ones exactly
// as in `caption`.
#pragma once

#include <vector>

#include "engine/continuous_batcher.h"

namespace pg {

struct GenerationOptions {
  int max_new_tokens = 32;
  int max_batch = 0;          // KV-cache slots; 0 = the whole batch at once
  int max_prefill_tokens = 0;  // see BatcherOptions
  SamplingParams sampling;
  bool keep_logits = false;   // keep the full-vocabulary logits of every step
  bool keep_logprobs = false;  // log p(token) of every generated token (--scores)
  bool keep_hidden = false;   // keep the decoder hidden states of the prefill (debugging)
};

struct GenerationOutput {
  std::vector<int> tokens;                  // generated ids, including <eos> if produced
  bool hit_eos = false;
  std::vector<std::vector<float>> logits;   // [steps][vocab]; step 0 = prefill's last position
  std::vector<float> logprobs;              // [tokens] (keep_logprobs)
  std::vector<float> prefill_hidden;        // [depth + 1, prompt_tokens, D] (keep_hidden)
  int prompt_tokens = 0;                    // Np + text tokens
};

class Generator {
 public:
  explicit Generator(PaliGemma& model) : model_(model) {}

  // Every rank of the tensor-parallel group calls Run with the same batch.
  std::vector<GenerationOutput> Run(const std::vector<GenerationInput>& batch, const GenerationOptions& options);

 private:
  PaliGemma& model_;
};

}  // namespace pg
