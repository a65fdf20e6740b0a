#include "models/continuous_batcher.h"

#include <algorithm>

namespace pg {

ContinuousBatcher::ContinuousBatcher(PaliGemma& model, const BatcherOptions& options)
    : model_(model), options_(options), sampler_(options.sampling) {
  const ModelConfig& c = model.config();
  PG_CHECK(options.max_batch >= 1, "--batch must be >= 1, got " << options.max_batch);
  PG_CHECK(options.max_new_tokens >= 1, "--max-new-tokens must be >= 1, got " << options.max_new_tokens);
  if (options_.max_prompt_tokens <= 0) options_.max_prompt_tokens = c.max_seq_len - c.num_image_tokens() - options.max_new_tokens;
  CheckPromptFits(c, options_.max_prompt_tokens, options.max_new_tokens);
  capacity_ = c.num_image_tokens() + options_.max_prompt_tokens + options.max_new_tokens;
  cache_ = KvCache::Make(model.backend(), c.text, model.decoder().weights().kv_heads_local, options.max_batch, capacity_);
  slots_.resize(options.max_batch);
}

void ContinuousBatcher::Submit(GenerationInput input) {
  PG_CHECK(static_cast<int>(input.text_ids.size()) <= options_.max_prompt_tokens,
           "prompt too long: " << input.text_ids.size() << " tokens; at most " << options_.max_prompt_tokens
                               << " fit with " << options_.max_new_tokens << " new tokens in max_seq_len "
                               << model_.config().max_seq_len);
  waiting_.push_back(std::move(input));
}

bool ContinuousBatcher::Accept(int s, int token) {
  Slot& slot = slots_[s];
  slot.tokens.push_back(token);
  slot.next = token;
  ++tokens_generated_;
  return token == model_.config().tokens.eos || static_cast<int>(slot.tokens.size()) >= options_.max_new_tokens;
}

SequenceResult ContinuousBatcher::Finish(int s) {
  Slot& slot = slots_[s];
  SequenceResult r;
  r.id = slot.id;
  r.tokens = std::move(slot.tokens);
  r.hit_eos = !r.tokens.empty() && r.tokens.back() == model_.config().tokens.eos;
  r.prompt_tokens = slot.prompt_len;
  slot = Slot{};
  --active_;
  return r;
}

std::vector<SequenceResult> ContinuousBatcher::Admit() {
  std::vector<SequenceResult> done;
  std::vector<int> free;
  for (int s = 0; s < options_.max_batch; ++s)
    if (!slots_[s].busy) free.push_back(s);
  const int n = std::min<int>(free.size(), waiting_.size());
  if (n == 0) return done;
  std::vector<GenerationInput> batch(std::make_move_iterator(waiting_.begin()),
                                     std::make_move_iterator(waiting_.begin() + n));
  waiting_.erase(waiting_.begin(), waiting_.begin() + n);

  // Prefill the newcomers together into a scratch cache, then move each into its slot.
  KvCache scratch;
  std::vector<int> len;
  std::vector<float> logits = Prefill(model_, batch, capacity_, &scratch, &len);
  Backend& be = model_.backend();
  const int V = model_.config().text.vocab_size;
  for (size_t l = 0; l < cache_.k.size(); ++l) {
    const int64_t row = cache_.k[l].dim(2) * cache_.k[l].dim(3);
    Tensor src_k = scratch.k[l].Reshaped({scratch.k[l].numel() / row, row});
    Tensor src_v = scratch.v[l].Reshaped({scratch.v[l].numel() / row, row});
    Tensor dst_k = cache_.k[l].Reshaped({cache_.k[l].numel() / row, row});
    Tensor dst_v = cache_.v[l].Reshaped({cache_.v[l].numel() / row, row});
    for (int i = 0; i < n; ++i) {
      be.CopyRows(src_k, static_cast<int64_t>(i) * capacity_, dst_k, static_cast<int64_t>(free[i]) * capacity_, len[i]);
      be.CopyRows(src_v, static_cast<int64_t>(i) * capacity_, dst_v, static_cast<int64_t>(free[i]) * capacity_, len[i]);
    }
  }
  std::vector<int> first(n);
  for (int i = 0; i < n; ++i) first[i] = sampler_.SampleOne(logits.data() + static_cast<size_t>(i) * V, V, batch[i].seq_id, 0);
  AgreeOnTokens(model_.tp(), first);
  for (int i = 0; i < n; ++i) {
    Slot& slot = slots_[free[i]];
    slot.busy = true;
    slot.id = batch[i].seq_id;
    slot.len = len[i];
    slot.prompt_len = len[i];
    ++active_;
    if (Accept(free[i], first[i])) done.push_back(Finish(free[i]));
  }
  return done;
}

std::vector<SequenceResult> ContinuousBatcher::Decode() {
  std::vector<SequenceResult> done;
  if (active_ == 0) return done;
  const ModelConfig& c = model_.config();
  Backend& be = model_.backend();
  const int B = options_.max_batch, V = c.text.vocab_size;
  // Every slot takes part; free slots are padding (no cache write, zero attention output).
  DecoderStep step;
  std::vector<int> feed(B, c.tokens.pad);
  step.mask.q_start.assign(B, 0);
  step.mask.kv_len.assign(B, 0);
  step.mask.prefix_len.assign(B, 0);
  step.count.assign(B, 0);
  step.last_row.assign(B, 0);
  for (int s = 0; s < B; ++s) {
    const Slot& slot = slots_[s];
    if (!slot.busy) continue;
    feed[s] = slot.next;
    step.mask.q_start[s] = slot.len;
    step.mask.kv_len[s] = slot.len + 1;
    step.mask.prefix_len[s] = slot.prompt_len;
    step.count[s] = 1;
  }
  step.x = model_.decoder().Embed(be, feed, model_.text_embed_scale()).Reshaped({B, 1, c.text.width});
  std::vector<float> logits = model_.decoder().Forward(be, step, cache_);
  std::vector<int> next(B, c.tokens.pad);
  for (int s = 0; s < B; ++s) {
    Slot& slot = slots_[s];
    if (!slot.busy) continue;
    ++slot.len;
    next[s] = sampler_.SampleOne(logits.data() + static_cast<size_t>(s) * V, V, slot.id,
                                 static_cast<int64_t>(slot.tokens.size()));
  }
  AgreeOnTokens(model_.tp(), next);
  for (int s = 0; s < B; ++s)
    if (slots_[s].busy && Accept(s, next[s])) done.push_back(Finish(s));
  return done;
}

std::vector<SequenceResult> ContinuousBatcher::Step() {
  std::vector<SequenceResult> done = Admit();
  std::vector<SequenceResult> more = Decode();
  done.insert(done.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return done;
}

}  // namespace pg
