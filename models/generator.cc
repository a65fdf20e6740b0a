#include "models/generator.h"

#include <algorithm>

namespace pg {

void CheckPromptFits(const ModelConfig& c, size_t text_tokens, int max_new_tokens) {
  const int64_t need = c.num_image_tokens() + static_cast<int64_t>(text_tokens) + max_new_tokens;
  PG_CHECK(need <= c.max_seq_len, "prompt too long: " << c.num_image_tokens() << " image tokens + " << text_tokens
                                                      << " prompt tokens + " << max_new_tokens << " new tokens = "
                                                      << need << " exceeds max_seq_len " << c.max_seq_len
                                                      << " of model '" << c.name << "'");
}

void AgreeOnTokens(const TpGroup& tp, std::vector<int>& tokens) {
  if (tp.parallel()) tp.comm->BroadcastHost(tokens.data(), tokens.size() * sizeof(int), 0);
}

std::vector<float> Prefill(PaliGemma& model, const std::vector<GenerationInput>& batch, int capacity, KvCache* cache,
                           std::vector<int>* lens, std::vector<float>* hidden) {
  const ModelConfig& c = model.config();
  Backend& be = model.backend();
  GemmaDecoder& dec = model.decoder();
  const int B = static_cast<int>(batch.size()), Np = c.num_image_tokens(), D = c.text.width;
  const int V = c.text.vocab_size;
  PG_CHECK(B > 0, "prefill: empty batch");

  // [B, T] with T = Np + longest text; shorter prompts are padded at the end (masked).
  std::vector<int>& len = *lens;
  len.assign(B, 0);
  int T = 0;
  std::vector<int> all_ids;
  for (int b = 0; b < B; ++b) {
    const GenerationInput& in = batch[b];
    PG_CHECK(static_cast<int64_t>(in.image_tokens.size()) == static_cast<int64_t>(Np) * D,
             "prefill: sequence " << in.seq_id << " has " << in.image_tokens.size()
                                  << " image-token values; expected " << Np << " x " << D);
    PG_CHECK(!in.text_ids.empty(), "prefill: sequence " << in.seq_id << " has an empty prompt (expected <bos> ... \\n)");
    for (int id : in.text_ids)
      PG_CHECK(id >= 0 && id < V, "prefill: prompt token id " << id << " outside the vocabulary [0, " << V << ")");
    len[b] = Np + static_cast<int>(in.text_ids.size());
    T = std::max(T, len[b]);
    all_ids.insert(all_ids.end(), in.text_ids.begin(), in.text_ids.end());
  }
  PG_CHECK(capacity >= T, "prefill: KV cache of " << capacity << " slots for a prompt of " << T << " tokens");
  *cache = KvCache::Make(be, c.text, dec.weights().kv_heads_local, B, capacity);

  DecoderStep step;
  step.x = be.Alloc("llm.x", {B, T, D});
  Tensor text = dec.Embed(be, all_ids, model.text_embed_scale());
  std::vector<float> images(static_cast<size_t>(B) * Np * D);
  for (int b = 0; b < B; ++b)
    std::copy(batch[b].image_tokens.begin(), batch[b].image_tokens.end(),
              images.begin() + static_cast<size_t>(b) * Np * D);
  Tensor img = be.Upload("image_tokens", {static_cast<int64_t>(B) * Np, D}, images.data());
  Tensor x2d = step.x.Reshaped({static_cast<int64_t>(B) * T, D});
  int64_t text_row = 0;
  for (int b = 0; b < B; ++b) {
    be.CopyRows(img, static_cast<int64_t>(b) * Np, x2d, static_cast<int64_t>(b) * T, Np);
    const int n = static_cast<int>(batch[b].text_ids.size());
    be.CopyRows(text, text_row, x2d, static_cast<int64_t>(b) * T + Np, n);
    text_row += n;
  }
  step.mask.q_start.assign(B, 0);
  step.mask.kv_len = len;
  step.mask.prefix_len = len;  // image + <bos> prompt "\n": one bidirectional block
  step.count = len;
  step.last_row.resize(B);
  for (int b = 0; b < B; ++b) step.last_row[b] = len[b] - 1;
  return dec.Forward(be, step, *cache, hidden);
}

std::vector<GenerationOutput> Generator::Run(const std::vector<GenerationInput>& batch,
                                             const GenerationOptions& opt) {
  const ModelConfig& c = model_.config();
  Backend& be = model_.backend();
  GemmaDecoder& dec = model_.decoder();
  const int B = static_cast<int>(batch.size()), D = c.text.width, V = c.text.vocab_size;
  PG_CHECK(opt.max_new_tokens >= 1, "generate: max_new_tokens must be >= 1, got " << opt.max_new_tokens);
  for (const GenerationInput& in : batch) CheckPromptFits(c, in.text_ids.size(), opt.max_new_tokens);
  Sampler sampler(opt.sampling);
  std::vector<int64_t> ids(B);
  for (int b = 0; b < B; ++b) ids[b] = batch[b].seq_id;

  size_t longest = 0;
  for (const GenerationInput& in : batch) longest = std::max(longest, in.text_ids.size());
  KvCache cache;
  std::vector<int> len;
  std::vector<float> hidden;
  std::vector<float> logits = Prefill(model_, batch, c.num_image_tokens() + static_cast<int>(longest) + opt.max_new_tokens,
                                      &cache, &len, opt.keep_hidden ? &hidden : nullptr);
  const int T = *std::max_element(len.begin(), len.end());

  std::vector<GenerationOutput> out(B);
  for (int b = 0; b < B; ++b) {
    out[b].prompt_tokens = len[b];
    if (!opt.keep_hidden) continue;
    // hidden: [depth + 1, B, T, D] -> this sequence's [depth + 1, len_b, D]
    for (int l = 0; l <= c.text.depth; ++l) {
      auto first = hidden.begin() + ((static_cast<size_t>(l) * B + b) * T) * D;
      out[b].prefill_hidden.insert(out[b].prefill_hidden.end(), first, first + static_cast<size_t>(len[b]) * D);
    }
  }

  // Decode: one token per sequence per step until <eos> or max_new_tokens.
  std::vector<int> cur = len;
  std::vector<bool> done(B, false);
  DecoderStep step;
  step.mask.prefix_len = len;
  step.mask.kv_len.resize(B);
  for (int s = 0; s < opt.max_new_tokens; ++s) {
    std::vector<int> next = sampler.Sample(logits.data(), B, V, s, ids);
    AgreeOnTokens(model_.tp(), next);
    int live = 0;
    for (int b = 0; b < B; ++b) {
      if (done[b]) continue;
      if (opt.keep_logits)
        out[b].logits.emplace_back(logits.begin() + static_cast<size_t>(b) * V,
                                   logits.begin() + static_cast<size_t>(b + 1) * V);
      out[b].tokens.push_back(next[b]);
      if (next[b] == c.tokens.eos) {
        done[b] = true;
        out[b].hit_eos = true;
      } else {
        ++live;
      }
    }
    if (live == 0 || s + 1 == opt.max_new_tokens) break;
    // Feed the sampled tokens; finished sequences are padding (no cache write, zero attention).
    std::vector<int> feed(B);
    for (int b = 0; b < B; ++b) feed[b] = done[b] ? c.tokens.pad : next[b];
    step.x = dec.Embed(be, feed, model_.text_embed_scale()).Reshaped({B, 1, D});
    step.mask.q_start = cur;
    step.count.assign(B, 1);
    for (int b = 0; b < B; ++b) {
      step.mask.kv_len[b] = done[b] ? 0 : cur[b] + 1;
      if (done[b]) step.count[b] = 0;
    }
    step.last_row.assign(B, 0);
    logits = dec.Forward(be, step, cache);
    for (int b = 0; b < B; ++b) ++cur[b];
  }
  return out;
}

}  // namespace pg
