#include "bench/machine_peaks.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "runtime/backend.h"
#include "runtime/cpu/gemm.h"

namespace pg {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double GemmGflops(int threads, DType weights) {
  BackendOptions o;
  o.threads = threads;
  o.weight_dtype = weights;
  auto be = MakeBackend("cpu", o);
  const int64_t M = 2048, K = 2048, N = 4096;
  std::vector<float> xh(M * K), wh(K * N);
  for (size_t i = 0; i < xh.size(); ++i) xh[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (size_t i = 0; i < wh.size(); ++i) wh[i] = static_cast<float>((i * 104729) % 1000) * 1e-3f - 0.5f;
  Tensor x = be->Upload("x", {M, K}, xh.data()), w = be->UploadWeight("w", {K, N}, wh.data());
  Tensor out = be->Alloc("out", {M, N});
  be->MatMul(x, w, nullptr, out);  // warm-up (oneDNN creates its primitive)
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const double t0 = Now();
    be->MatMul(x, w, nullptr, out);
    best = std::min(best, Now() - t0);
  }
  return 2.0 * M * N * K / best * 1e-9;
}

double ReadGbps(int threads) {
  const size_t n = (size_t{1} << 30) / sizeof(float);
  std::vector<float> buf(n, 1.f);
  double best = 1e30, sink = 0;
  for (int r = 0; r < 3; ++r) {
    const double t0 = Now();
    double total = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (int64_t c = 0; c < static_cast<int64_t>(n / 4096); ++c) {
      // 32 independent partial sums (four 8-lane vectors): one running sum would be a chain of
      // dependent adds, ~4 bytes per add latency, and measure the adder instead of the memory
      // (it read 7.2 GB/s on a Zen 3 VM whose decode GEMMs stream 10-12 GB/s).
      float s[32] = {};
      const float* p = buf.data() + c * 4096;
      for (int i = 0; i < 4096; i += 32)
        for (int j = 0; j < 32; ++j) s[j] += p[i + j];
      for (int j = 0; j < 32; ++j) total += s[j];
    }
    best = std::min(best, Now() - t0);
    sink += total;
  }
  if (sink < 0) std::printf("%g\n", sink);  // keep the sums alive
  return static_cast<double>(n * sizeof(float)) / best * 1e-9;
}

}  // namespace

std::string MachinePeaks::ToText() const {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "# peaks: GEMM fp32 %.1f GFLOP/s, GEMM bf16 %.1f GFLOP/s [%s] (2048x2048x4096, backend MatMul), "
                "memory read %.1f GB/s",
                gemm_f32_gflops, gemm_bf16_gflops, cpu::Bf16GemmKindName(cpu::Bf16GemmKindHere()), mem_read_gbps);
  return buf;
}

MachinePeaks MeasureMachinePeaks(int threads) {
  MachinePeaks p;
  p.gemm_f32_gflops = GemmGflops(threads, DType::kF32);
  p.gemm_bf16_gflops = GemmGflops(threads, DType::kBF16);  // native or widened (runtime/cpu/gemm.h)
  p.mem_read_gbps = ReadGbps(threads);
  return p;
}

}  // namespace pg
