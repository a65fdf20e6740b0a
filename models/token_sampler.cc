#include "models/token_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace pg {
namespace {

// (value desc, id asc), NaN ranked with +inf: the order of Backend::TopK.
bool Before(float a, int ia, float b, int ib) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (std::isnan(a)) a = kInf;
  if (std::isnan(b)) b = kInf;
  return a > b || (a == b && ia < ib);
}

// log(sum_v exp(row[v])) in fp64 from the max; NaN in, NaN out.
float HostLogSumExp(const float* row, int n) {
  float m = row[0];
  for (int i = 0; i < n; ++i) {
    if (std::isnan(row[i])) return row[i];
    m = std::max(m, row[i]);
  }
  if (std::isinf(m)) return m;
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(row[i]) - m);
  return static_cast<float>(m + std::log(sum));
}

// The logit of `token` among n candidates (it is one of them: the sampler drew it from them).
float CandidateValue(const float* values, const int* ids, int n, int token) {
  for (int j = 0; j < n; ++j)
    if (ids[j] == token) return values[j];
  PG_THROW("TokenSampler: token " << token << " is not among its " << n << " candidates");
}

}  // namespace

std::vector<float> GatherVocabShards(Backend& be, const TpGroup& tp, const Tensor& local, int vocab) {
  const int64_t B = local.dim(0), Vl = local.dim(1);
  PG_CHECK(Vl * tp.size == vocab, "logits '" << local.name << "' " << ShapeStr(local.shape) << " at tp " << tp.size
                                             << " do not cover a vocabulary of " << vocab);
  std::vector<float> mine(static_cast<size_t>(B * Vl));
  be.Download(local, mine.data());
  if (!tp.parallel()) return mine;
  std::vector<float> all(mine.size() * tp.size);  // [tp, B, Vl]
  AllGatherHost(*tp.comm, mine.data(), all.data(), mine.size());
  std::vector<float> logits(static_cast<size_t>(B) * vocab);  // [B, V]
  for (int r = 0; r < tp.size; ++r)
    for (int64_t b = 0; b < B; ++b)
      std::copy(all.begin() + (r * B + b) * Vl, all.begin() + (r * B + b + 1) * Vl, logits.begin() + b * vocab + r * Vl);
  return logits;
}

std::vector<int> TokenSampler::Next(Backend& be, const TpGroup& tp, const Tensor& local, int64_t vocab_offset,
                                    const std::vector<int64_t>& seq_ids, const std::vector<int64_t>& steps,
                                    const std::vector<float>* full_rows, std::vector<float>* logprobs) {
  const int B = static_cast<int>(local.dim(0)), Vl = static_cast<int>(local.dim(1));
  PG_CHECK(static_cast<int>(seq_ids.size()) == B && static_cast<int>(steps.size()) == B,
           "TokenSampler: " << seq_ids.size() << " sequence ids and " << steps.size() << " steps for " << B << " rows");
  std::vector<int> next(B);
  if (logprobs) logprobs->assign(B, 0.f);
  const int need = sampler_.CandidatesNeeded(vocab_);
  if (need == 0) {
    std::vector<float> gathered;
    if (!full_rows) gathered = GatherVocabShards(be, tp, local, vocab_);
    const std::vector<float>& logits = full_rows ? *full_rows : gathered;
    for (int b = 0; b < B; ++b) {
      const float* row = logits.data() + static_cast<size_t>(b) * vocab_;
      next[b] = sampler_.SampleOne(row, vocab_, seq_ids[b], steps[b]);
      if (logprobs) (*logprobs)[b] = row[next[b]] - HostLogSumExp(row, vocab_);
    }
    return next;
  }
  const int k = std::min(need, Vl);  // per rank; the merged set has tp x k >= need candidates
  values_.resize(static_cast<size_t>(B) * k);
  ids_.resize(values_.size());
  be.TopK(local, k, values_.data(), ids_.data());
  for (int& id : ids_) id += static_cast<int>(vocab_offset);
  if (logprobs) {
    lse_.resize(B);
    be.RowLogSumExp(local, lse_.data());  // over this rank's shard
  }
  if (!tp.parallel()) {
    for (int b = 0; b < B; ++b) {
      next[b] = sampler_.SampleCandidates(values_.data() + b * k, ids_.data() + b * k, k, seq_ids[b], steps[b]);
      if (logprobs) (*logprobs)[b] = CandidateValue(values_.data() + b * k, ids_.data() + b * k, k, next[b]) - lse_[b];
    }
    return next;
  }
  // All-gather [values | ids | lse] (ids < 2^24 are exact as float; lse only for logprobs) and
  // merge per row.
  const size_t lse_count = logprobs ? static_cast<size_t>(B) : 0;
  const size_t per_rank = 2 * values_.size() + lse_count;
  std::vector<float> send(per_rank);
  std::copy(values_.begin(), values_.end(), send.begin());
  for (size_t i = 0; i < ids_.size(); ++i) send[values_.size() + i] = static_cast<float>(ids_[i]);
  if (logprobs) std::copy(lse_.begin(), lse_.end(), send.begin() + 2 * values_.size());
  gathered_.resize(per_rank * tp.size);
  AllGatherHost(*tp.comm, send.data(), gathered_.data(), per_rank);
  const int n = k * tp.size;
  std::vector<float> vals(n);
  std::vector<int> ids(n), order(n);
  std::vector<float> best_v(need);
  std::vector<int> best_i(need);
  for (int b = 0; b < B; ++b) {
    for (int r = 0; r < tp.size; ++r)
      for (int j = 0; j < k; ++j) {
        const float* block = gathered_.data() + r * per_rank;
        vals[r * k + j] = block[b * k + j];
        ids[r * k + j] = static_cast<int>(block[values_.size() + b * k + j]);
      }
    std::iota(order.begin(), order.end(), 0);
    const int m = std::min(need, n);
    std::partial_sort(order.begin(), order.begin() + m, order.end(),
                      [&](int x, int y) { return Before(vals[x], ids[x], vals[y], ids[y]); });
    for (int j = 0; j < m; ++j) {
      best_v[j] = vals[order[j]];
      best_i[j] = ids[order[j]];
    }
    next[b] = sampler_.SampleCandidates(best_v.data(), best_i.data(), m, seq_ids[b], steps[b]);
    if (logprobs) {
      // lse over the whole vocabulary from the ranks' shard values: M + log(sum_r exp(lse_r - M)).
      float M = -std::numeric_limits<float>::infinity();
      bool nan = false;
      for (int r = 0; r < tp.size; ++r) {
        const float l = gathered_[r * per_rank + 2 * values_.size() + b];
        nan |= std::isnan(l);
        M = std::max(M, l);
      }
      float lse = M;
      if (nan) {
        lse = std::numeric_limits<float>::quiet_NaN();
      } else if (!std::isinf(M)) {
        double sum = 0;
        for (int r = 0; r < tp.size; ++r)
          sum += std::exp(static_cast<double>(gathered_[r * per_rank + 2 * values_.size() + b]) - M);
        lse = static_cast<float>(M + std::log(sum));
      }
      (*logprobs)[b] = CandidateValue(best_v.data(), best_i.data(), m, next[b]) - lse;
    }
  }
  return next;
}

}  // namespace pg
