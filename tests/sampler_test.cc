// Tests models/sampler: greedy, temperature, top-k, top-p, determinism. Statistical checks use
// fixed seeds, so they are deterministic; their bounds (5 standard deviations of a binomial
// frequency) are what a correct sampler meets, while a wrong distribution misses them by far.
#include "models/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "models/counter_rng.h"
#include "runtime/check.h"

namespace pg {
namespace {

// Deterministic pseudo-random logits in [-4, 4): [rows, vocab].
std::vector<float> RandomLogits(int rows, int vocab, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(rows) * vocab);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(8.0 * CounterUniform(seed, 0, i) - 4.0);
  }
  return x;
}

// Logits whose softmax is `probs` (natural log; any constant offset is irrelevant).
std::vector<float> LogitsOf(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::vector<double> Softmax(const std::vector<float>& logits, double temperature) {
  double m = -1e300;
  for (float v : logits) m = std::max(m, static_cast<double>(v));
  std::vector<double> p;
  double total = 0;
  for (float v : logits) total += p.emplace_back(std::exp((v - m) / temperature));
  for (double& x : p) x /= total;
  return p;
}

// Frequencies of `draws` draws of sequence `seq_id` over steps 0..draws-1.
std::vector<double> Frequencies(const Sampler& s, const std::vector<float>& logits, int draws,
                                int64_t seq_id = 0) {
  std::vector<double> f(logits.size(), 0.0);
  for (int step = 0; step < draws; ++step) {
    f[s.SampleOne(logits.data(), static_cast<int>(logits.size()), seq_id, step)] += 1.0 / draws;
  }
  return f;
}

// |freq - p| <= 5 sigma of a binomial frequency (plus a tiny floor for p ~ 0).
void ExpectFrequenciesNear(const std::vector<double>& freq, const std::vector<double>& p,
                           int draws) {
  ASSERT_EQ(freq.size(), p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double sigma = std::sqrt(p[i] * (1 - p[i]) / draws);
    EXPECT_NEAR(freq[i], p[i], 5 * sigma + 1e-9) << "token " << i;
  }
}

SamplingParams Params(float temperature, int top_k = 0, float top_p = 1.f, uint64_t seed = 7) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.seed = seed;
  return p;
}

TEST(Sampler, GreedyIsArgmaxLowestIndexOnTies) {
  const int batch = 5, vocab = 1000;
  std::vector<float> logits = RandomLogits(batch, vocab, 1);
  logits[3 * vocab + 17] = 9.f;  // row 3: tie between 17 and 400 -> 17
  logits[3 * vocab + 400] = 9.f;
  logits[4 * vocab + vocab - 1] = 9.f;  // row 4: maximum at the last index
  const Sampler greedy(SamplingParams{});
  const std::vector<int> got = greedy.Sample(logits.data(), batch, vocab, /*step=*/0);
  for (int b = 0; b < batch; ++b) {
    const float* row = logits.data() + b * vocab;
    int best = 0;
    for (int i = 0; i < vocab; ++i) best = row[i] > row[best] ? i : best;
    EXPECT_EQ(got[b], best) << "row " << b;
  }
  EXPECT_EQ(got[3], 17);
  EXPECT_EQ(got[4], vocab - 1);
}

TEST(Sampler, TopK1IsGreedy) {
  const int batch = 8, vocab = 300;
  const Sampler greedy(SamplingParams{});
  const Sampler top1(Params(1.5f, /*top_k=*/1));
  const Sampler top1p(Params(1.f, /*top_k=*/1, /*top_p=*/0.5f));
  for (int step = 0; step < 50; ++step) {
    std::vector<float> logits = RandomLogits(batch, vocab, 100 + step);
    logits[5] = logits[6] = 10.f;  // a tie in row 0
    const auto want = greedy.Sample(logits.data(), batch, vocab, step);
    EXPECT_EQ(top1.Sample(logits.data(), batch, vocab, step), want);
    EXPECT_EQ(top1p.Sample(logits.data(), batch, vocab, step), want);
    EXPECT_EQ(want[0], 5);
  }
}

TEST(Sampler, SameSeedSameTokensDifferentSeedsDiffer) {
  const int batch = 4, vocab = 50, steps = 100;
  const std::vector<float> logits(static_cast<size_t>(batch) * vocab, 0.f);  // uniform
  std::vector<std::vector<int>> runs;
  for (uint64_t seed : {11u, 11u, 12u}) {
    const Sampler s(Params(1.f, 0, 1.f, seed));  // fresh instance per run
    std::vector<int> all;
    for (int step = 0; step < steps; ++step) {
      for (int t : s.Sample(logits.data(), batch, vocab, step)) all.push_back(t);
    }
    runs.push_back(all);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_NE(runs[0], runs[2]);
  // Draws are spread out: 400 uniform draws over 50 tokens miss a given token with probability
  // (49/50)^400 = 3e-4, so missing 5 or more would mean a broken generator.
  EXPECT_GE(std::set<int>(runs[0].begin(), runs[0].end()).size(), 45u);
}

TEST(Sampler, TokenDependsOnSequenceIdNotBatchPosition) {
  const int vocab = 64;
  const std::vector<float> row(vocab, 0.f);
  const Sampler s(Params(1.f, 0, 0.9f, 3));
  std::vector<float> batch3;
  for (int b = 0; b < 3; ++b) batch3.insert(batch3.end(), row.begin(), row.end());
  int differ = 0;
  for (int step = 0; step < 40; ++step) {
    const auto got = s.Sample(batch3.data(), 3, vocab, step, {42, 7, 1000});
    EXPECT_EQ(got[0], s.SampleOne(row.data(), vocab, 42, step));
    EXPECT_EQ(got[1], s.SampleOne(row.data(), vocab, 7, step));
    EXPECT_EQ(got[2], s.SampleOne(row.data(), vocab, 1000, step));
    differ += got[0] != got[1];
  }
  EXPECT_GT(differ, 30);  // independent streams: equal only ~1/57 of the time
}

TEST(Sampler, TemperatureOneMatchesSoftmax) {
  const int draws = 20000;
  const std::vector<float> logits = {2.f, 1.f, 0.5f, 0.f, -1.f, -2.f, 1.5f, -0.25f};
  const Sampler s(Params(1.f, 0, 1.f, 2024));
  ExpectFrequenciesNear(Frequencies(s, logits, draws), Softmax(logits, 1.0), draws);
}

TEST(Sampler, TemperatureScalesLogits) {
  const int draws = 20000;
  const std::vector<float> logits = {2.f, 1.f, 0.f, -1.f};
  const Sampler hot(Params(2.f, 0, 1.f, 5));
  ExpectFrequenciesNear(Frequencies(hot, logits, draws), Softmax(logits, 2.0), draws);
  const Sampler cold(Params(0.25f, 0, 1.f, 5));
  ExpectFrequenciesNear(Frequencies(cold, logits, draws), Softmax(logits, 0.25), draws);
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  const int draws = 20000;
  const std::vector<float> logits = LogitsOf({0.05, 0.5, 0.15, 0.3});  // sorted: 1, 3, 2, 0
  // top_p = 0.7: 0.5 < 0.7 <= 0.5 + 0.3, so the nucleus is {1, 3}, renormalised.
  const Sampler p07(Params(1.f, 0, 0.7f, 9));
  ExpectFrequenciesNear(Frequencies(p07, logits, draws), {0, 0.5 / 0.8, 0, 0.3 / 0.8}, draws);
  // top_p = 0.9: {1, 3, 2}; token 0 never drawn.
  const Sampler p09(Params(1.f, 0, 0.9f, 9));
  ExpectFrequenciesNear(Frequencies(p09, logits, draws), {0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95},
                        draws);
  // top_p = 0.3 < the largest probability: only token 1.
  const Sampler p03(Params(1.f, 0, 0.3f, 9));
  ExpectFrequenciesNear(Frequencies(p03, logits, draws), {0, 1, 0, 0}, draws);
}

TEST(Sampler, TopPOverALargeVocabulary) {
  // 20000 tokens (the bucketed top-p path): 10 "good" ones hold ~99.8% of the mass; top_p = 0.9
  // must never leave them.
  const int vocab = 20000, draws = 1000;
  std::vector<float> logits(vocab, 0.f);
  for (int i = 0; i < 10; ++i) logits[(i * 1997) % vocab] = 10.f - 0.01f * i;
  const Sampler s(Params(1.f, 0, 0.9f, 77));
  const std::vector<double> f = Frequencies(s, logits, draws);
  double good = 0;
  for (int i = 0; i < 10; ++i) good += f[(i * 1997) % vocab];
  EXPECT_DOUBLE_EQ(good, 1.0);
}

TEST(Sampler, TopPTiesAreBrokenByLowerIndex) {
  // Three equal best logits, everything else masked: with top_p = 0.5 the nucleus is the two
  // lowest indices of the three (mass 1/3 < 0.5 <= 2/3), on both the sorted and bucketed paths.
  for (int vocab : {100, 30000}) {
    std::vector<float> logits(vocab, -std::numeric_limits<float>::infinity());
    const int a = vocab / 5, b = vocab / 2, c = vocab - 3;
    logits[c] = logits[a] = logits[b] = 3.25f;
    const Sampler s(Params(1.f, 0, 0.5f, 4));
    EXPECT_EQ(s.Support(logits.data(), vocab), (std::vector<int>{a, b})) << "vocab " << vocab;
    const int draws = vocab > 1000 ? 1000 : 4000;
    const std::vector<double> f = Frequencies(s, logits, draws);
    EXPECT_NEAR(f[a], 0.5, 5 * std::sqrt(0.25 / draws));
    EXPECT_EQ(f[c], 0.0);  // never drawn (frequencies of a and b sum to 1 up to rounding)
  }
}

// Reference support: sort everything by (logit desc, index asc), keep top_k, then the smallest
// prefix whose softmax mass reaches top_p; weights computed as the sampler does (float exp).
std::vector<int> ReferenceSupport(const std::vector<float>& logits, const SamplingParams& p) {
  const int vocab = static_cast<int>(logits.size());
  std::vector<int> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  if (p.top_k > 0 && p.top_k < vocab) order.resize(p.top_k);
  const float max_logit = logits[order[0]], inv_t = 1.f / p.temperature;
  std::vector<double> w;
  double total = 0;
  for (int id : order) total += w.emplace_back(std::exp((logits[id] - max_logit) * inv_t));
  std::vector<int> kept;
  double cum = 0;
  for (size_t j = 0; j < order.size(); ++j) {
    if (w[j] > 0) kept.push_back(order[j]);
    cum += w[j];
    if (cum >= p.top_p * total) break;
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

TEST(Sampler, SupportMatchesBruteForceReference) {
  int checked = 0;
  for (int vocab : {7, 1000, 8192, 8193, 50000}) {  // both sides of the bucketing threshold
    for (const SamplingParams& p :
         {Params(1.f, 0, 0.9f), Params(0.3f, 0, 0.95f), Params(2.f, 0, 0.5f),
          Params(1.f, 50, 0.8f), Params(1.f, 3), Params(0.7f, 0, 0.999f)}) {
      for (uint64_t seed : {1u, 2u}) {
        std::vector<float> logits = RandomLogits(1, vocab, seed * 1000 + vocab);
        for (int i = 0; i < vocab; i += 7) logits[i] = std::round(logits[i]);  // add ties
        const std::vector<int> want = ReferenceSupport(logits, p);
        EXPECT_EQ(Sampler(p).Support(logits.data(), vocab), want)
            << "vocab " << vocab << " " << p.ToString();
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 60);
  const std::vector<float> logits = {1.f, 3.f, 3.f, 2.f};
  EXPECT_EQ(Sampler(SamplingParams{}).Support(logits.data(), 4), std::vector<int>{1});
}

TEST(Sampler, TopKKeepsTheKLargest) {
  const int draws = 20000;
  const std::vector<float> logits = LogitsOf({0.05, 0.5, 0.15, 0.3});
  const Sampler k2(Params(1.f, /*top_k=*/2, 1.f, 31));
  ExpectFrequenciesNear(Frequencies(k2, logits, draws), {0, 0.5 / 0.8, 0, 0.3 / 0.8}, draws);
  // top_k then top_p (HF order): k = 3 keeps {1, 3, 2} (mass 0.95); top_p = 0.6 of that is
  // 0.57 -> {1, 3}.
  const Sampler k3p(Params(1.f, 3, 0.6f, 31));
  ExpectFrequenciesNear(Frequencies(k3p, logits, draws), {0, 0.5 / 0.8, 0, 0.3 / 0.8}, draws);
  // top_k >= vocab is "off".
  const Sampler k9(Params(1.f, 9, 1.f, 31));
  ExpectFrequenciesNear(Frequencies(k9, logits, draws), {0.05, 0.5, 0.15, 0.3}, draws);
}

TEST(Sampler, TinyTemperatureActsLikeGreedy) {
  // 1/T overflows float for T = 1e-39: must not produce NaN weights.
  const std::vector<float> logits = RandomLogits(1, 500, 3);
  const int best = ArgMax(logits.data(), 500);
  for (float t : {1e-6f, 1e-39f}) {
    const Sampler s(Params(t, 0, 0.9f, 8));
    EXPECT_EQ(s.Support(logits.data(), 500), std::vector<int>{best}) << t;
    EXPECT_EQ(s.SampleOne(logits.data(), 500, 0, 0), best) << t;
  }
}

TEST(Sampler, MaskedTokensAreNeverDrawn) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {ninf, 0.f, ninf, 0.f, ninf};
  for (const SamplingParams& p : {Params(1.f), Params(1.f, 4), Params(1.f, 0, 0.99f)}) {
    const std::vector<double> f = Frequencies(Sampler(p), logits, 2000);
    EXPECT_EQ(f[0] + f[2] + f[4], 0.0) << p.ToString();
    EXPECT_GT(f[1], 0.4);
    EXPECT_GT(f[3], 0.4);
  }
}

TEST(Sampler, RejectsBadLogitsAndParams) {
  const Sampler s(Params(1.f));
  std::vector<float> bad = {0.f, std::nanf(""), 1.f};
  EXPECT_THROW(s.SampleOne(bad.data(), 3, 0, 0), Error);
  bad[1] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(Sampler(SamplingParams{}).SampleOne(bad.data(), 3, 0, 0), Error);
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> all_masked = {ninf, ninf};
  EXPECT_THROW(s.SampleOne(all_masked.data(), 2, 0, 0), Error);
  EXPECT_THROW(s.Sample(all_masked.data(), 1, 2, 0, {1, 2}), Error);  // 2 seq_ids for batch 1
  EXPECT_THROW(Sampler(Params(-1.f)), Error);
  EXPECT_THROW(Sampler(Params(1.f, -1)), Error);
  EXPECT_THROW(Sampler(Params(1.f, 0, 0.f)), Error);
  EXPECT_THROW(Sampler(Params(1.f, 0, 1.5f)), Error);
  EXPECT_THROW(Sampler(Params(std::nanf(""))), Error);
}

TEST(CounterRng, UniformIsSpreadAndKeyed) {
  // Mean and variance of U[0,1): 1/2 and 1/12, within 5 sigma over 100000 draws.
  const int n = 100000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = CounterUniform(1, 2, i);
    ASSERT_TRUE(u >= 0.0 && u < 1.0);
    sum += u;
    sum2 += u * u;
  }
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
  EXPECT_EQ(CounterRandom64(1, 2, 3), CounterRandom64(1, 2, 3));
  EXPECT_NE(CounterRandom64(1, 2, 3), CounterRandom64(1, 3, 2));
  EXPECT_NE(CounterRandom64(1, 2, 3), CounterRandom64(2, 2, 3));
}

}  // namespace
}  // namespace pg
