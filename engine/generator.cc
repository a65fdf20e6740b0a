#include "engine/generator.h"

#include <algorithm>
#include <map>

namespace pg {

std::vector<GenerationOutput> Generator::Run(const std::vector<GenerationInput>& batch, const GenerationOptions& opt) {
  const ModelConfig& c = model_.config();
  PG_CHECK(opt.max_new_tokens >= 1, "generate: max_new_tokens must be >= 1, got " << opt.max_new_tokens);
  if (batch.empty()) return {};
  size_t longest = 0;
  for (const GenerationInput& in : batch) {
    CheckPromptFits(c, in.text_ids.size(), opt.max_new_tokens);
    longest = std::max(longest, in.text_ids.size());
  }
  BatcherOptions bo;
  bo.max_batch = opt.max_batch > 0 ? opt.max_batch : static_cast<int>(batch.size());
  bo.max_new_tokens = opt.max_new_tokens;
  bo.max_prompt_tokens = static_cast<int>(longest);
  bo.max_prefill_tokens = opt.max_prefill_tokens;
  bo.sampling = opt.sampling;
  bo.keep_logits = opt.keep_logits;
  bo.keep_logprobs = opt.keep_logprobs;
  bo.keep_hidden = opt.keep_hidden;
  ContinuousBatcher batcher(model_, bo);
  std::map<int64_t, size_t> index;  // seq_id -> position in `batch`
  for (size_t i = 0; i < batch.size(); ++i) {
    PG_CHECK(index.emplace(batch[i].seq_id, i).second, "generate: seq_id " << batch[i].seq_id << " appears twice");
    batcher.Submit(batch[i]);
  }
  std::vector<GenerationOutput> out(batch.size());
  while (!batcher.idle()) {
    for (SequenceResult& r : batcher.Step()) {
      GenerationOutput& o = out[index.at(r.id)];
      o.tokens = std::move(r.tokens);
      o.hit_eos = r.hit_eos;
      o.logits = std::move(r.logits);
      o.logprobs = std::move(r.logprobs);
      o.prefill_hidden = std::move(r.prefill_hidden);
      o.prompt_tokens = r.prompt_tokens;
    }
  }
  return out;
}

}  // namespace pg
