#include "models/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>

#include "models/counter_rng.h"
#include "runtime/check.h"

namespace pg {
namespace {

// logits: [vocab] -> index of the maximum (lowest index on ties), checking the row in the same
// pass: NaN and +inf are errors, -inf is a masked-out token, an all -inf row is an error.
int CheckedArgMax(const float* logits, int vocab, int64_t seq_id, int64_t step) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  int best = 0;
  float best_value = logits[0];
  bool bad = false;
  for (int i = 0; i < vocab; ++i) {
    const float v = logits[i];
    bad |= !(v < kInf);  // NaN or +inf
    if (v > best_value) {
      best_value = v;
      best = i;
    }
  }
  if (bad) {
    int i = 0;
    while (logits[i] < kInf) ++i;
    PG_THROW("sampler: logit " << i << " of sequence " << seq_id << " at step " << step << " is "
                               << logits[i] << " (NaN or +inf: the model output is broken)");
  }
  PG_CHECK(logits[best] > -kInf, "sampler: every logit of sequence "
                                     << seq_id << " at step " << step
                                     << " is -inf; nothing to sample");
  return best;
}

// Maps a float to a uint32 with the same order (-0 and +0 equal), for bucketing by value.
uint32_t OrderKey(float v) {
  if (v == 0.f) v = 0.f;
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// Candidate order (logit desc, index asc): a strict total order, so any sort of it is unique.
struct Before {
  const float* logits;
  bool operator()(int a, int b) const {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  }
};

// Vocabularies up to this size are sorted outright for top-p; larger ones are bucketed.
constexpr int kSortAllLimit = 8192;

// Unnormalised softmax(logit / T) for one token; exp(-inf) = 0 for masked tokens. The maximum
// itself gets 1 even when 1/T overflows to inf (0 * inf would be NaN).
inline double Weight(float logit, float max_logit, float inv_t) {
  const float d = logit - max_logit;
  return d == 0.f ? 1.0 : std::exp(d * inv_t);
}

// ids: candidates in Before order -> the smallest prefix whose weight reaches top_p of the total
// (at least one token). w: [ids.size()] aligned weights. Truncates both in place.
void KeepNucleusPrefix(std::vector<int>& ids, std::vector<double>& w, float top_p) {
  double total = 0.0;
  for (double x : w) total += x;
  const double mass = top_p * total;
  double cum = 0.0;
  size_t keep = 0;
  while (keep < ids.size()) {
    cum += w[keep++];
    if (cum >= mass) break;
  }
  ids.resize(keep);
  w.resize(keep);
}

// top-p over a large vocabulary without sorting it: bucket tokens by the top 16 bits of their
// logit's order key, walk buckets from the largest logits until the mass reaches `mass`, then
// sort only the boundary bucket. w: [vocab]. Returns the nucleus (the smallest prefix in Before
// order whose weight reaches `mass`) in index order.
std::vector<int> NucleusByBuckets(const float* logits, int vocab, const std::vector<double>& w,
                                  double mass) {
  constexpr int kBuckets = 1 << 16;
  // Reused per thread (512 KiB) and left all-zero after each call: only [lowest, highest] is
  // touched, and it is cleared before returning.
  thread_local std::vector<double> bucket_mass(kBuckets, 0.0);
  int lowest = kBuckets - 1, highest = 0;
  for (int i = 0; i < vocab; ++i) {
    const int b = static_cast<int>(OrderKey(logits[i]) >> 16);
    bucket_mass[b] += w[i];
    lowest = std::min(lowest, b);
    highest = std::max(highest, b);
  }
  double cum = 0.0;
  int boundary = highest;
  for (; boundary > lowest; --boundary) {
    if (bucket_mass[boundary] > 0.0 && cum + bucket_mass[boundary] >= mass) break;
    cum += bucket_mass[boundary];
  }
  std::fill(bucket_mass.begin() + lowest, bucket_mass.begin() + highest + 1, 0.0);
  std::vector<int> members;  // the boundary bucket (never empty), in Before order
  for (int i = 0; i < vocab; ++i) {
    if (static_cast<int>(OrderKey(logits[i]) >> 16) == boundary) members.push_back(i);
  }
  std::sort(members.begin(), members.end(), Before{logits});
  size_t cut = 0;  // members[0, cut] are kept
  for (; cut + 1 < members.size(); ++cut) {
    cum += w[members[cut]];
    if (cum >= mass) break;
  }
  const uint32_t cut_key = OrderKey(logits[members[cut]]);
  const int cut_index = members[cut];
  std::vector<int> kept;
  for (int i = 0; i < vocab; ++i) {
    const uint32_t key = OrderKey(logits[i]);
    if (key > cut_key || (key == cut_key && i <= cut_index)) kept.push_back(i);
  }
  return kept;
}

}  // namespace

void SamplingParams::Validate() const {
  PG_CHECK(std::isfinite(temperature) && temperature >= 0.f,
           "sampling: temperature must be >= 0 (0 = greedy); got " << temperature);
  PG_CHECK(top_k >= 0, "sampling: top_k must be >= 0 (0 = off); got " << top_k);
  PG_CHECK(top_p > 0.f && top_p <= 1.f, "sampling: top_p must be in (0, 1] (1 = off); got "
                                            << top_p);
}

std::string SamplingParams::ToString() const {
  std::ostringstream os;
  if (greedy()) {
    os << "greedy";
  } else {
    os << "temperature=" << temperature << " top_k=" << top_k << " top_p=" << top_p
       << " seed=" << seed;
  }
  return os.str();
}

int ArgMax(const float* logits, int vocab) {
  // logits: [vocab]; strict '>' keeps the lowest index among equal maxima.
  int best = 0;
  for (int i = 1; i < vocab; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

Sampler::Sampler(const SamplingParams& params) : params_(params) { params_.Validate(); }

std::vector<int> Sampler::Sample(const float* logits, int batch, int vocab, int64_t step,
                                 const std::vector<int64_t>& seq_ids) const {
  // logits: [batch, vocab] -> [batch]
  PG_CHECK(batch >= 0 && vocab > 0,
           "sampler: bad logits shape " << ShapeStr({batch, vocab}) << "; expected [batch, vocab]");
  PG_CHECK(seq_ids.empty() || static_cast<int>(seq_ids.size()) == batch,
           "sampler: " << seq_ids.size() << " seq_ids for a batch of " << batch);
  std::vector<int> tokens(batch);
  for (int b = 0; b < batch; ++b) {
    const int64_t seq_id = seq_ids.empty() ? b : seq_ids[b];
    tokens[b] = SampleOne(logits + static_cast<size_t>(b) * vocab, vocab, seq_id, step);
  }
  return tokens;
}

int Sampler::SampleOne(const float* logits, int vocab, int64_t seq_id, int64_t step) const {
  // logits: [vocab] -> token id
  PG_CHECK(vocab > 0, "sampler: vocab must be positive; got " << vocab);
  const int best = CheckedArgMax(logits, vocab, seq_id, step);
  if (params_.greedy()) return best;
  return Draw(Warp(logits, vocab, logits[best]), seq_id, step, best);
}

int Sampler::Draw(const Candidates& c, int64_t seq_id, int64_t step, int fallback) const {
  // Inverse CDF over the candidates in their (deterministic) order.
  double total = 0.0;
  for (double w : c.weights) total += w;
  const double target = total * CounterUniform(params_.seed, static_cast<uint64_t>(seq_id),
                                               static_cast<uint64_t>(step));
  double acc = 0.0;
  for (size_t j = 0; j < c.ids.size(); ++j) {
    acc += c.weights[j];
    if (acc > target) return c.ids[j];
  }
  // acc ends at total (same summation order) > target, unless u * total rounded up to total
  // (chance ~2^-53): then take the most likely token.
  return fallback;
}

int Sampler::CandidatesNeeded(int vocab) const {
  if (params_.greedy()) return 1;
  return params_.top_k > 0 && params_.top_k < vocab ? params_.top_k : 0;
}

int Sampler::SampleCandidates(const float* values, const int* ids, int n, int64_t seq_id, int64_t step) const {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  PG_CHECK(n >= 1, "sampler: no candidates for sequence " << seq_id << " at step " << step);
  PG_CHECK(values[0] < kInf, "sampler: logit " << ids[0] << " of sequence " << seq_id << " at step " << step << " is "
                                               << values[0] << " (NaN or +inf: the model output is broken)");
  PG_CHECK(values[0] > -kInf, "sampler: every logit of sequence " << seq_id << " at step " << step
                                                                  << " is -inf; nothing to sample");
  if (params_.greedy()) return ids[0];
  // Warp's top-k branch on the k best: weights against the maximum, then the top-p prefix.
  const float inv_t = 1.f / params_.temperature;
  Candidates c;
  c.ids.assign(ids, ids + n);
  for (int j = 0; j < n; ++j) c.weights.push_back(Weight(values[j], values[0], inv_t));
  if (params_.top_p < 1.f) KeepNucleusPrefix(c.ids, c.weights, params_.top_p);
  return Draw(c, seq_id, step, ids[0]);
}

std::vector<int> Sampler::Support(const float* logits, int vocab) const {
  PG_CHECK(vocab > 0, "sampler: vocab must be positive; got " << vocab);
  const int best = CheckedArgMax(logits, vocab, -1, -1);
  if (params_.greedy()) return {best};
  const Candidates c = Warp(logits, vocab, logits[best]);
  std::vector<int> ids;
  for (size_t j = 0; j < c.ids.size(); ++j) {
    if (c.weights[j] > 0.0) ids.push_back(c.ids[j]);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Temperature -> top-k -> top-p (HF warper order).
Sampler::Candidates Sampler::Warp(const float* logits, int vocab, float max_logit) const {
  const float inv_t = 1.f / params_.temperature;
  const bool nucleus = params_.top_p < 1.f;
  const bool top_k = params_.top_k > 0 && params_.top_k < vocab;
  Candidates c;
  if (!top_k && (!nucleus || vocab > kSortAllLimit)) {
    c.weights.resize(vocab);
    for (int i = 0; i < vocab; ++i) c.weights[i] = Weight(logits[i], max_logit, inv_t);
    if (!nucleus) {  // plain temperature sampling over the vocabulary, index order
      c.ids.resize(vocab);
      std::iota(c.ids.begin(), c.ids.end(), 0);
      return c;
    }
    double total = 0.0;
    for (double x : c.weights) total += x;
    c.ids = NucleusByBuckets(logits, vocab, c.weights, params_.top_p * total);
    std::vector<double> kept_w;
    kept_w.reserve(c.ids.size());
    for (int id : c.ids) kept_w.push_back(c.weights[id]);
    c.weights = std::move(kept_w);
    return c;
  }
  // The k best (or all, for a small vocabulary) in Before order, then the top-p prefix.
  const size_t k = top_k ? params_.top_k : vocab;
  c.ids.resize(vocab);
  std::iota(c.ids.begin(), c.ids.end(), 0);
  std::partial_sort(c.ids.begin(), c.ids.begin() + k, c.ids.end(), Before{logits});
  c.ids.resize(k);
  for (int id : c.ids) c.weights.push_back(Weight(logits[id], max_logit, inv_t));
  if (nucleus) KeepNucleusPrefix(c.ids, c.weights, params_.top_p);
  return c;
}

}  // namespace pg
