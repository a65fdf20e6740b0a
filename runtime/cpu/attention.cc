#include "runtime/cpu/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "runtime/cpu/parallel.h"
#include "runtime/cpu/elementwise.h"
#include "runtime/op_shapes.h"

namespace pg::cpu {
namespace {

constexpr int64_t kRowBlock = 64;  // query rows (t, head) per task

struct Dims {
  int64_t B, T, H, hd, S, KH, group;
};

// Visibility of key slot s for query slot qs (runtime/backend.h AttentionMask).
inline bool Visible(int64_t s, int64_t qs, int64_t prefix, int64_t window) {
  return (s < prefix && qs < prefix) || (s <= qs && (window == 0 || qs - s < window));
}

// One task: sequence b, kv head g, stacked rows [r0, r1) of the T x group rows (row = t * group + j,
// query head g * group + j).
void Task(const Dims& d, const float* q, const float* k, const float* v, const AttentionMask& m,
          const AttentionParams& p, float* out, int64_t b, int64_t g, int64_t r0, int64_t r1) {
  const int64_t rows = r1 - r0, hd = d.hd, cb = m.slot.empty() ? b : m.slot[b];
  const int64_t kv_len = m.kv_len[b], prefix = m.prefix_len[b], q0 = m.q_start[b];
  thread_local std::vector<float> qs_buf, scores, o_buf;
  qs_buf.resize(rows * hd);
  o_buf.resize(rows * hd);
  // Keys this block can see: [0, hi). The block's last query slot bounds the causal part.
  const int64_t last_qs = q0 + (r1 - 1) / d.group;
  const int64_t hi = std::min<int64_t>(kv_len, std::max<int64_t>(last_qs + 1, last_qs < prefix ? prefix : 0));
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t t = r / d.group, j = r % d.group;
    const float* src = q + ((b * d.T + t) * d.H + g * d.group + j) * hd;
    float* dst = qs_buf.data() + (r - r0) * hd;
    for (int64_t i = 0; i < hd; ++i) dst[i] = src[i] * p.scale;
  }
  std::fill(o_buf.begin(), o_buf.end(), 0.f);
  if (hi > 0) {
    scores.resize(rows * hi);
    const float* kb = k + (cb * d.S * d.KH + g) * hd;  // row s at kb + s * KH * hd
    const float* vb = v + (cb * d.S * d.KH + g) * hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, hi, hd, 1.f, qs_buf.data(), hd, kb, d.KH * hd, 0.f,
                scores.data(), hi);
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    for (int64_t r = r0; r < r1; ++r) {
      float* row = scores.data() + (r - r0) * hi;
      const int64_t qs = q0 + r / d.group;
      if (qs >= kv_len) {  // padding query: zero output
        std::fill(row, row + hi, 0.f);
        continue;
      }
      if (p.softcap > 0.f) SoftCapInPlace(row, hi, p.softcap);
      float mx = kNegInf;
      for (int64_t s = 0; s < hi; ++s) {
        if (!Visible(s, qs, prefix, m.window)) row[s] = kNegInf;
        mx = std::max(mx, row[s]);
      }
      const float inv = 1.f / ExpShiftedSum(row, hi, mx);
      for (int64_t s = 0; s < hi; ++s) row[s] *= inv;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, hi, 1.f, scores.data(), hi, vb, d.KH * hd, 0.f,
                o_buf.data(), hd);
  }
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t t = r / d.group, j = r % d.group;
    std::memcpy(out + ((b * d.T + t) * d.H + g * d.group + j) * hd, o_buf.data() + (r - r0) * hd, hd * sizeof(float));
  }
}

}  // namespace

void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
               const AttentionParams& params, Tensor& out, int threads) {
  Dims d{q.dim(0), q.dim(1), q.dim(2), q.dim(3), k.dim(1), k.dim(2), 0};
  d.group = d.H / d.KH;
  const int64_t rows = d.T * d.group, blocks = (rows + kRowBlock - 1) / kRowBlock;
  const int64_t tasks = d.B * d.KH * blocks;
  const float* qp = q.f32();
  const float* kp = k.f32();
  const float* vp = v.f32();
  float* op = out.f32();
  ParallelFor(threads, tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t blk = task % blocks, bg = task / blocks, g = bg % d.KH, b = bg / d.KH;
      const int64_t r0 = blk * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
      Task(d, qp, kp, vp, mask, params, op, b, g, r0, r1);
    }
  });
}

}  // namespace pg::cpu
