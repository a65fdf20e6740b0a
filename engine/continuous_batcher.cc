#include "engine/continuous_batcher.h"

#include <algorithm>

namespace pg {

void CheckPromptFits(const ModelConfig& c, size_t text_tokens, int max_new_tokens) {
  const int64_t need = c.num_image_tokens() + static_cast<int64_t>(text_tokens) + max_new_tokens;
  PG_CHECK(need <= c.max_seq_len, "prompt too long: " << c.num_image_tokens() << " image tokens + " << text_tokens
                                                      << " prompt tokens + " << max_new_tokens << " new tokens = "
                                                      << need << " exceeds max_seq_len " << c.max_seq_len
                                                      << " of model '" << c.name << "'");
}

ContinuousBatcher::ContinuousBatcher(PaliGemma& model, const BatcherOptions& options)
    : model_(model), options_(options), sampler_(options.sampling, model.config().text.vocab_size) {
  const ModelConfig& c = model.config();
  PG_CHECK(options.max_batch >= 1, "--batch must be >= 1, got " << options.max_batch);
  PG_CHECK(options.max_new_tokens >= 1, "--max-new-tokens must be >= 1, got " << options.max_new_tokens);
  if (options_.max_prompt_tokens <= 0)
    options_.max_prompt_tokens = c.max_seq_len - c.num_image_tokens() - options.max_new_tokens;
  CheckPromptFits(c, options_.max_prompt_tokens, options.max_new_tokens);
  const int longest_prompt = c.num_image_tokens() + options_.max_prompt_tokens;
  if (options_.max_prefill_tokens <= 0) options_.max_prefill_tokens = std::max(4096, longest_prompt);
  PG_CHECK(options_.max_prefill_tokens >= longest_prompt,
           "max_prefill_tokens " << options_.max_prefill_tokens << " is below one prompt of " << longest_prompt
                                 << " tokens");
  capacity_ = longest_prompt + options.max_new_tokens;
  cache_ = KvCache::Make(model.backend(), c.text, model.decoder().weights().kv_heads_local, options.max_batch,
                         capacity_);
  model.decoder().Reserve(model.backend(), std::max(options_.max_prefill_tokens, options.max_batch),
                          options.max_batch);
  slots_.resize(options.max_batch);
}

void ContinuousBatcher::Submit(GenerationInput input) {
  const ModelConfig& c = model_.config();
  PG_CHECK(static_cast<int>(input.text_ids.size()) <= options_.max_prompt_tokens,
           "prompt too long: " << input.text_ids.size() << " tokens; at most " << options_.max_prompt_tokens
                               << " fit with " << options_.max_new_tokens << " new tokens in max_seq_len "
                               << c.max_seq_len);
  const size_t per_image = static_cast<size_t>(c.num_image_tokens()) * c.text.width;
  const size_t given = input.image_tokens_on_backend.empty()
                           ? input.image_tokens.size()
                           : static_cast<size_t>(input.image_tokens_on_backend.numel());
  PG_CHECK(given == per_image, "request " << input.seq_id << " has " << given << " image-token values; expected "
                                          << c.num_image_tokens() << " x " << c.text.width);
  PG_CHECK(!input.text_ids.empty(), "request " << input.seq_id << " has an empty prompt (expected <bos> ... \\n)");
  for (int id : input.text_ids)
    PG_CHECK(id >= 0 && id < c.text.vocab_size,
             "request " << input.seq_id << ": prompt token id " << id << " outside the vocabulary [0, "
                        << c.text.vocab_size << ")");
  waiting_.push_back(std::move(input));
}

bool ContinuousBatcher::Accept(int s, int token, const float* logits_row) {
  Slot& slot = slots_[s];
  slot.result.tokens.push_back(token);
  if (logits_row) {
    const int V = model_.config().text.vocab_size;
    slot.result.logits.emplace_back(logits_row, logits_row + V);
  }
  slot.next = token;
  ++tokens_generated_;
  const bool eos = token == model_.config().tokens.eos && !options_.ignore_eos;
  return eos || static_cast<int>(slot.result.tokens.size()) >= options_.max_new_tokens;
}

SequenceResult ContinuousBatcher::Finish(int s) {
  Slot& slot = slots_[s];
  SequenceResult r = std::move(slot.result);
  r.hit_eos = !r.tokens.empty() && r.tokens.back() == model_.config().tokens.eos;
  slot = Slot{};
  --active_;
  return r;
}

// logits: [B, vocab_local] for the sequences in `slots` -> their next tokens, accepted.
std::vector<SequenceResult> ContinuousBatcher::SampleAndAccept(const Tensor& logits, const std::vector<int>& slots) {
  const int B = static_cast<int>(slots.size()), V = model_.config().text.vocab_size;
  std::vector<int64_t> ids(B), steps(B);
  for (int i = 0; i < B; ++i) {
    ids[i] = slots_[slots[i]].result.id;
    steps[i] = static_cast<int64_t>(slots_[slots[i]].result.tokens.size());
  }
  Backend& be = model_.backend();
  const TpGroup& tp = model_.tp();
  if (options_.keep_logits) step_logits_ = GatherVocabShards(be, tp, logits, V);
  const std::vector<int> next = sampler_.Next(be, tp, logits, model_.decoder().weights().vocab_offset, ids, steps,
                                              options_.keep_logits ? &step_logits_ : nullptr,
                                              options_.keep_logprobs ? &step_logprobs_ : nullptr);
  std::vector<SequenceResult> done;
  for (int i = 0; i < B; ++i) {
    if (options_.keep_logprobs) slots_[slots[i]].result.logprobs.push_back(step_logprobs_[i]);
    const float* row = options_.keep_logits ? step_logits_.data() + static_cast<size_t>(i) * V : nullptr;
    if (Accept(slots[i], next[i], row)) done.push_back(Finish(slots[i]));
  }
  return done;
}

std::vector<SequenceResult> ContinuousBatcher::Prefill() {
  const ModelConfig& c = model_.config();
  const int Np = c.num_image_tokens(), D = c.text.width;
  // Newcomers, first come first served, while slots are free and [n, T] fits the prefill budget.
  std::vector<int> free;
  for (int s = 0; s < options_.max_batch; ++s)
    if (!slots_[s].busy) free.push_back(s);
  int n = 0, T = 0;
  while (n < static_cast<int>(free.size()) && n < static_cast<int>(waiting_.size())) {
    const int len = Np + static_cast<int>(waiting_[n].text_ids.size());
    if (static_cast<int64_t>(n + 1) * std::max(T, len) > options_.max_prefill_tokens) break;
    T = std::max(T, len);
    ++n;
  }
  if (n == 0) return {};
  std::vector<GenerationInput> batch(std::make_move_iterator(waiting_.begin()),
                                     std::make_move_iterator(waiting_.begin() + n));
  waiting_.erase(waiting_.begin(), waiting_.begin() + n);

  // x: [n, T, D] = [image tokens | embedded prompt | padding] per sequence.
  Backend& be = model_.backend();
  GemmaDecoder& dec = model_.decoder();
  DecoderWorkspace& ws = dec.Workspace();
  std::vector<int> text_ids, len(n), slots(free.begin(), free.begin() + n);
  for (int i = 0; i < n; ++i) {
    text_ids.insert(text_ids.end(), batch[i].text_ids.begin(), batch[i].text_ids.end());
    len[i] = Np + static_cast<int>(batch[i].text_ids.size());
  }
  Tensor text = ws.text.Prefix({static_cast<int64_t>(text_ids.size()), D});
  dec.EmbedInto(be, text_ids, model_.text_embed_scale(), text);
  DecoderStep step;
  step.x = ws.x.Prefix({n, T, D});
  Tensor x2d = step.x.Reshaped({static_cast<int64_t>(n) * T, D});
  int64_t text_row = 0;
  for (int i = 0; i < n; ++i) {
    Tensor image_rows = x2d.RowSlice(static_cast<int64_t>(i) * T, Np);
    if (batch[i].image_tokens_on_backend.empty()) {
      be.CopyFromHost(batch[i].image_tokens.data(), image_rows);
    } else {  // device to device on CUDA: the image tokens never visit the host
      be.CopyRows(batch[i].image_tokens_on_backend.Reshaped({Np, D}), 0, x2d, static_cast<int64_t>(i) * T, Np);
    }
    const int m = len[i] - Np;
    be.CopyRows(text, text_row, x2d, static_cast<int64_t>(i) * T + Np, m);
    text_row += m;
  }
  step.mask.slot = slots;
  step.mask.q_start.assign(n, 0);
  step.mask.kv_len = len;
  step.mask.prefix_len = len;  // image + <bos> prompt "\n": one bidirectional block
  step.count = len;
  step.last_row.resize(n);
  for (int i = 0; i < n; ++i) step.last_row[i] = len[i] - 1;
  std::vector<float> hidden;
  const Tensor logits = dec.Forward(be, step, cache_, options_.keep_hidden ? &hidden : nullptr);

  for (int i = 0; i < n; ++i) {
    Slot& slot = slots_[slots[i]];
    slot.busy = true;
    slot.len = len[i];
    slot.result.id = batch[i].seq_id;
    slot.result.prompt_tokens = len[i];
    ++active_;
    if (!options_.keep_hidden) continue;
    // hidden: [depth + 1, n, T, D] -> this sequence's [depth + 1, len_i, D]
    for (int l = 0; l <= c.text.depth; ++l) {
      auto first = hidden.begin() + ((static_cast<size_t>(l) * n + i) * T) * D;
      slot.result.prefill_hidden.insert(slot.result.prefill_hidden.end(), first,
                                        first + static_cast<size_t>(len[i]) * D);
    }
  }
  return SampleAndAccept(logits, slots);
}

std::vector<SequenceResult> ContinuousBatcher::Decode() {
  if (active_ == 0) return {};
  const ModelConfig& c = model_.config();
  Backend& be = model_.backend();
  GemmaDecoder& dec = model_.decoder();
  // Only the live sequences: row i of the step is cache row slots[i].
  std::vector<int> slots, feed;
  DecoderStep step;
  for (int s = 0; s < options_.max_batch; ++s) {
    const Slot& slot = slots_[s];
    if (!slot.busy) continue;
    slots.push_back(s);
    feed.push_back(slot.next);
    step.mask.q_start.push_back(slot.len);
    step.mask.kv_len.push_back(slot.len + 1);
    step.mask.prefix_len.push_back(slot.result.prompt_tokens);
  }
  const int B = static_cast<int>(slots.size());
  step.mask.slot = slots;
  step.count.assign(B, 1);
  step.last_row.assign(B, 0);
  step.x = dec.Workspace().x.Prefix({B, 1, c.text.width});
  // Embedding .. logits as one step of the backend (CUDA: a CUDA graph per batch size, replayed
  // while the launches stay the same); sampling reads the logits on the host, outside it.
  StepKey key;
  key.batch = B;
  key.cache_len = cache_.capacity;
  key.collectives = dec.tp().parallel();
  Tensor logits;
  be.RunStep(key, [&] {
    dec.EmbedInto(be, feed, model_.text_embed_scale(), step.x);
    logits = dec.Forward(be, step, cache_);
  });
  for (int s : slots) ++slots_[s].len;
  ++decode_steps_;
  return SampleAndAccept(logits, slots);
}

std::vector<SequenceResult> ContinuousBatcher::Step() {
  std::vector<SequenceResult> done = Prefill();
  std::vector<SequenceResult> more = Decode();
  done.insert(done.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return done;
}

}  // namespace pg
