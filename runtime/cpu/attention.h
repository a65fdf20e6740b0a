// Masked attention on the CPU, GEMM-shaped: for each (sequence, kv head) the query heads that
// share the kv head are stacked into one matrix Q [rows = T x group, head_dim] (pre-scaled), so
//   scores[rows, kv_len] = Q K^T            (one sgemm; K read once for the whole group)
//   mask + soft-cap + softmax per row       (vectorized, FastExp)
//   out[rows, head_dim]  = P V              (one sgemm)
// The work is (sequence, kv head, block of rows) tasks spread over the backend's threads.
// Semantics are those of Backend::Attention (runtime/backend.h): prefix-LM block, causal,
// sliding window, padding queries give zeros, sequence b reads cache row mask.slot[b].
#pragma once

#include "runtime/backend.h"

namespace pg::cpu {

// q: [B, T, H, hd], k/v: [rows, S, KH, hd], out: [B, T, H, hd]; shapes already checked.
void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
               const AttentionParams& params, Tensor& out, int threads);

}  // namespace pg::cpu
