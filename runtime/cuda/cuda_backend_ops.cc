// CudaBackend compute ops: each checks shapes and dtypes exactly as CpuBackend does
// (runtime/cpu_backend.cc), then calls its LaunchFoo (runtime/cuda/kernels.h, gemm.h).
#include <climits>
#include <cmath>

#include "runtime/op_shapes.h"
#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda/cuda_check.h"

namespace pg {
namespace cuda {

// ---- linear algebra -------------------------------------------------------------------------
void CudaBackend::Gemm(const Tensor& x, const Tensor& w, bool trans_w, const Tensor* bias, GemmEpilogue epilogue,
                       Tensor& out, int64_t M, int64_t N, int64_t K, const char* op) {
  const MutView o = Out(out, op);
  const void* xb = AsBf16(x, gemm_x_, op);
  const void* wb = AsBf16(w, gemm_w_, op);
  const void* b = nullptr;
  if (bias) {  // cuBLASLt reads the bias in the output's type: convert when it differs ([N], small)
    const ConstView bv = In(*bias, op);
    b = bv.data;
    if (bv.bf16 != o.bf16) {
      void* dst = gemm_bias_.Reserve(*ctx_, N * (o.bf16 ? 2 : 4), op);
      LaunchConvert({bv, dst, o.bf16, N}, ctx_->stream());
      b = dst;
    }
  }
  LaunchGemmLt(GemmParams{xb, wb, trans_w, o, b, epilogue, M, N, K, op}, cublas_lt_, workspace_,
               kCublasWorkspaceBytes, ctx_->stream());
  Launched(op);
}

void CudaBackend::MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& out) {
  // x: [M, K], w: [K, N], out: [M, N] (x and out may carry more dims with those element counts)
  const auto [M, N, K] = CheckMatMul(x, w, out);
  if (bias)
    PG_CHECK(bias->numel() == N, "MatMul: bias '" << bias->name << "' " << ShapeStr(bias->shape) << " for "
                                                  << N << " output columns");
  Gemm(x, w, false, bias, bias ? GemmEpilogue::kBias : GemmEpilogue::kNone, out, M, N, K, "MatMul");
}

void CudaBackend::MatMulGelu(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out) {
  // x: [M, K], w: [K, N], bias: [N] -> out: [M, N] = gelu_tanh(x w + bias), in the GEMM's epilogue
  const auto [M, N, K] = CheckMatMul(x, w, out);
  PG_CHECK(bias.numel() == N, "MatMulGelu: bias '" << bias.name << "' " << ShapeStr(bias.shape) << " for " << N
                                                   << " output columns");
  Gemm(x, w, false, &bias, GemmEpilogue::kGeluBias, out, M, N, K, "MatMulGelu");
}

void CudaBackend::MatMulTransB(const Tensor& x, const Tensor& w, Tensor& out) {
  // x: [M, K], w: [N, K], out: [M, N]
  const int64_t N = w.dim(0), K = w.dim(-1), M = Rows(x);
  PG_CHECK(x.dim(-1) == K && out.dim(-1) == N && Rows(out) == M && w.numel() == N * K,
           "MatMulTransB: '" << x.name << "' " << ShapeStr(x.shape) << " x '" << w.name << "'^T "
                             << ShapeStr(w.shape) << " -> '" << out.name << "' " << ShapeStr(out.shape));
  Gemm(x, w, true, nullptr, GemmEpilogue::kNone, out, M, N, K, "MatMulTransB");
}

// ---- elementwise ----------------------------------------------------------------------------
void CudaBackend::Add(Tensor& x, const Tensor& y) {
  PG_CHECK(x.numel() == y.numel(), "Add: '" << x.name << "' " << ShapeStr(x.shape) << " vs '" << y.name << "' "
                                            << ShapeStr(y.shape));
  LaunchAdd({Out(x, "Add"), In(y, "Add"), x.numel()}, ctx_->stream());
  Launched("Add");
}

void CudaBackend::AddRowBroadcast(Tensor& x, const Tensor& row) {
  // x: [M, N] (any shape with M * N elements), row: [N]
  const int64_t N = row.numel();
  PG_CHECK(N > 0 && x.numel() % N == 0, "AddRowBroadcast: row '" << row.name << "' has " << N << " elements; '"
                                                                 << x.name << "' has " << x.numel());
  LaunchAddTiled({Out(x, "AddRowBroadcast"), In(row, "AddRowBroadcast"), x.numel(), N}, ctx_->stream());
  Launched("AddRowBroadcast");
}

void CudaBackend::AddBatchBroadcast(Tensor& x, const Tensor& table) {
  // x: [B, R, N] += table: [R, N]
  const int64_t per = table.numel();
  PG_CHECK(per > 0 && x.numel() % per == 0, "AddBatchBroadcast: '" << table.name << "' " << ShapeStr(table.shape)
                                                                   << " does not tile '" << x.name << "' "
                                                                   << ShapeStr(x.shape));
  LaunchAddTiled({Out(x, "AddBatchBroadcast"), In(table, "AddBatchBroadcast"), x.numel(), per}, ctx_->stream());
  Launched("AddBatchBroadcast");
}

void CudaBackend::Scale(Tensor& x, float s) {
  LaunchScale({Out(x, "Scale"), s, x.numel()}, ctx_->stream());
  Launched("Scale");
}

void CudaBackend::GeluTanh(Tensor& x) {
  LaunchGeluTanh({Out(x, "GeluTanh"), x.numel()}, ctx_->stream());
  Launched("GeluTanh");
}

void CudaBackend::GeGlu(const Tensor& gate_up, Tensor& out) {
  // gate_up: [M, 2F] -> out: [M, F]
  const int64_t F = out.dim(-1), M = Rows(out);
  PG_CHECK(gate_up.dim(-1) == 2 * F && Rows(gate_up) == M,
           "GeGlu: '" << gate_up.name << "' " << ShapeStr(gate_up.shape) << " -> '" << out.name << "' "
                      << ShapeStr(out.shape));
  LaunchGeGlu({In(gate_up, "GeGlu"), Out(out, "GeGlu"), M, F}, ctx_->stream());
  Launched("GeGlu");
}

void CudaBackend::SoftCap(Tensor& x, float cap) {
  PG_CHECK(cap > 0, "SoftCap: cap must be > 0, got " << cap << " for '" << x.name << "'");
  LaunchSoftCap({Out(x, "SoftCap"), cap, x.numel()}, ctx_->stream());
  Launched("SoftCap");
}

// ---- norms ----------------------------------------------------------------------------------
void CudaBackend::LayerNorm(const Tensor& x, const Tensor& scale, const Tensor& bias, float eps, Tensor& out) {
  // x: [M, N] -> out: [M, N]; scale, bias: [N]
  const int64_t N = x.dim(-1), M = Rows(x);
  PG_CHECK(scale.numel() == N && bias.numel() == N && out.numel() == x.numel(),
           "LayerNorm: '" << x.name << "' " << ShapeStr(x.shape) << " with scale '" << scale.name << "' "
                          << ShapeStr(scale.shape));
  PG_CHECK(M <= INT_MAX, "LayerNorm: " << M << " rows in '" << x.name << "' exceed one grid");
  LaunchLayerNorm({In(x, "LayerNorm"), In(scale, "LayerNorm"), In(bias, "LayerNorm"), Out(out, "LayerNorm"), M, N,
                   eps},
                  ctx_->stream());
  Launched("LayerNorm");
}

void CudaBackend::RmsNorm(const Tensor& x, const Tensor& scale, float eps, Tensor& out) {
  // x: [M, N] -> out: [M, N] (out may be x); scale: [N]
  const int64_t N = x.dim(-1), M = Rows(x);
  PG_CHECK(scale.numel() == N && out.numel() == x.numel(),
           "RmsNorm: '" << x.name << "' " << ShapeStr(x.shape) << " with scale '" << scale.name << "' "
                        << ShapeStr(scale.shape));
  PG_CHECK(M <= INT_MAX, "RmsNorm: " << M << " rows in '" << x.name << "' exceed one grid");
  LaunchRmsNorm({In(x, "RmsNorm"), In(scale, "RmsNorm"), Out(out, "RmsNorm"), M, N, eps}, ctx_->stream());
  Launched("RmsNorm");
}

void CudaBackend::AddRmsNorm(Tensor& x, const Tensor& y, const Tensor& scale, float eps, Tensor& out) {
  // x, y, out: [M, N]; scale: [N]
  CheckAddRmsNorm(x, y, scale, out);
  const int64_t N = x.dim(-1), M = Rows(x);
  PG_CHECK(M <= INT_MAX, "AddRmsNorm: " << M << " rows in '" << x.name << "' exceed one grid");
  LaunchAddRmsNorm({Out(x, "AddRmsNorm"), In(y, "AddRmsNorm"), In(scale, "AddRmsNorm"), Out(out, "AddRmsNorm"), M, N,
                    eps},
                   ctx_->stream());
  Launched("AddRmsNorm");
}

// ---- transformer pieces ---------------------------------------------------------------------
void CudaBackend::SplitQkvRope(const Tensor& qkv, const std::vector<int>& positions, float base, Tensor& q,
                               Tensor& k, Tensor& v) {
  // qkv: [rows, (H + 2 KH) * hd] -> q: [rows, H, hd], k/v: [rows, KH, hd]; q, k rotated at positions
  const auto [rows, H, KH, hd] = CheckSplitQkv(qkv, positions, q, k, v);
  SplitQkvRopeParams p{In(qkv, "SplitQkvRope"), Out(q, "SplitQkvRope"), Out(k, "SplitQkvRope"), Out(v, "SplitQkvRope"),
                       nullptr, nullptr, rows, H, KH, hd};
  if (!positions.empty()) {
    p.positions = Ints(positions_, positions, "SplitQkvRope");
    p.inv_freq = InverseFrequencies(hd, base, "SplitQkvRope");
  }
  LaunchSplitQkvRope(p, ctx_->stream());
  Launched("SplitQkvRope");
}

void CudaBackend::Embed(const Tensor& table, const std::vector<int>& ids, int64_t row_offset, float scale,
                        Tensor& out) {
  // table: [rows, D], ids: [M] -> out: [M, D]
  const int64_t rows = table.dim(0), D = table.dim(-1);
  PG_CHECK(table.numel() == rows * D, "Embed: table '" << table.name << "' " << ShapeStr(table.shape)
                                                       << " must be [rows, D]");
  PG_CHECK(out.dim(-1) == D && Rows(out) == static_cast<int64_t>(ids.size()),
           "Embed: '" << out.name << "' " << ShapeStr(out.shape) << " for " << ids.size() << " ids");
  const MutView o = Out(out, "Embed");
  const ConstView t = In(table, "Embed");
  const int* d_ids = Ints(ids_, ids, "Embed");
  LaunchEmbed({t, d_ids, o, static_cast<int64_t>(ids.size()), row_offset, rows, D, scale}, ctx_->stream());
  Launched("Embed");
}

// ---- sampling -------------------------------------------------------------------------------
void CudaBackend::TopK(const Tensor& logits, int k, float* values, int* ids) {
  // logits: [B, V] -> host values, ids: [B, k] in (value desc, index asc) order
  RequireEager(stream(), "TopK");  // results to the host: outside a CUDA graph step
  const int64_t V = logits.dim(-1), B = Rows(logits);
  PG_CHECK(k >= 1 && k <= V, "TopK: k = " << k << " for rows of " << V << " in '" << logits.name << "'");
  PG_CHECK(V <= INT_MAX && B <= INT_MAX, "TopK: '" << logits.name << "' " << ShapeStr(logits.shape) << " is too large");
  const size_t n = static_cast<size_t>(B) * k;
  char* buf = static_cast<char*>(top_k_.Reserve(*ctx_, n * (sizeof(float) + sizeof(int)), "TopK"));
  float* d_values = reinterpret_cast<float*>(buf);
  int* d_ids = reinterpret_cast<int*>(buf + n * sizeof(float));
  LaunchTopK({InF32(logits, "TopK"), d_values, d_ids, B, V, k}, ctx_->stream());
  Launched("TopK");
  CUDA_CHECK(cudaMemcpyAsync(values, d_values, n * sizeof(float), cudaMemcpyDeviceToHost, ctx_->stream()), "TopK");
  CUDA_CHECK(cudaMemcpyAsync(ids, d_ids, n * sizeof(int), cudaMemcpyDeviceToHost, ctx_->stream()), "TopK");
  CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "TopK");
  stats_.bytes_to_host += static_cast<int64_t>(n * (sizeof(float) + sizeof(int)));
}

void CudaBackend::RowLogSumExp(const Tensor& logits, float* lse) {
  // logits: [B, V] -> host lse: [B]
  RequireEager(stream(), "RowLogSumExp");
  const int64_t V = logits.dim(-1), B = Rows(logits);
  PG_CHECK(V >= 1, "RowLogSumExp: empty rows in '" << logits.name << "'");
  float* d_lse = static_cast<float*>(top_k_.Reserve(*ctx_, B * sizeof(float), "RowLogSumExp"));
  LaunchRowLogSumExp({InF32(logits, "RowLogSumExp"), d_lse, B, V}, ctx_->stream());
  Launched("RowLogSumExp");
  CUDA_CHECK(cudaMemcpyAsync(lse, d_lse, B * sizeof(float), cudaMemcpyDeviceToHost, ctx_->stream()), "RowLogSumExp");
  CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "RowLogSumExp");
  stats_.bytes_to_host += B * static_cast<int64_t>(sizeof(float));
}

}  // namespace cuda
}  // namespace pg
