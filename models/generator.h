// Generator: batched prefix-LM prefill + batched decode with a preallocated KV cache.
// Every rank of a tensor-parallel group calls Run with the same inputs; the group leader's
// sampled tokens are broadcast each step so every rank feeds the same tokens.
#pragma once

#include <vector>

#include "models/paligemma.h"
#include "models/sampler.h"

namespace pg {

struct GenerationInput {
  std::vector<float> image_tokens;  // [Np, D] projected image tokens
  std::vector<int> text_ids;        // <bos> prompt "\n"  (Tokenizer::BuildPrompt)
  int64_t seq_id = 0;               // stable id for the sampler's random stream
};

struct GenerationOptions {
  int max_new_tokens = 32;
  SamplingParams sampling;
  bool keep_logits = false;   // keep the full-vocabulary logits of every step
  bool keep_hidden = false;   // keep the decoder hidden states of the prefill (debugging)
};

struct GenerationOutput {
  std::vector<int> tokens;                  // generated ids, including <eos> if produced
  bool hit_eos = false;
  std::vector<std::vector<float>> logits;   // [steps][vocab]; step 0 = prefill's last position
  std::vector<float> prefill_hidden;        // [depth + 1, T_total, D] (keep_hidden)
  int prompt_tokens = 0;                    // Np + text tokens
};

// Batched prefix-LM prefill of `batch` into a new KV cache of `capacity` slots per sequence
// (at least the longest prompt). Returns full-vocabulary logits [batch, vocab] at each
// sequence's last prompt token; *lens gets the prompt lengths (Np + text tokens).
// hidden (optional): [depth + 1, batch, T, D] residual stream, T = longest prompt.
std::vector<float> Prefill(PaliGemma& model, const std::vector<GenerationInput>& batch, int capacity, KvCache* cache,
                           std::vector<int>* lens, std::vector<float>* hidden = nullptr);

// Checks that a prompt of `text_tokens` fits the model with `max_new_tokens` after it.
void CheckPromptFits(const ModelConfig& c, size_t text_tokens, int max_new_tokens);

// The leader's sampled tokens, broadcast over the tensor-parallel group.
void AgreeOnTokens(const TpGroup& tp, std::vector<int>& tokens);

class Generator {
 public:
  explicit Generator(PaliGemma& model) : model_(model) {}

  std::vector<GenerationOutput> Run(const std::vector<GenerationInput>& batch, const GenerationOptions& options);

 private:
  PaliGemma& model_;
};

}  // namespace pg
