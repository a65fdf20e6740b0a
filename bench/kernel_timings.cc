#include "bench/kernel_timings.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <functional>
#include <utility>
#include <vector>

#include "runtime/backend.h"
#include "runtime/cpu/bf16_widen_gemm.h"
#include "runtime/cpu/few_rows_gemm.h"
#include "runtime/cpu/gemm.h"
#include "runtime/cpu/host_buffer.h"
#include "runtime/dtype.h"

namespace pg {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best of 7 timed calls of each of a and b after one warm-up call each (oneDNN creates its
// primitive on the first call), a and b alternating so that other load on the machine hits both.
std::pair<double, double> BestSeconds(const std::function<void()>& a, const std::function<void()>& b) {
  a();
  b();
  double best_a = 1e30, best_b = 1e30;
  for (int r = 0; r < 7; ++r) {
    double t0 = Now();
    a();
    best_a = std::min(best_a, Now() - t0);
    t0 = Now();
    b();
    best_b = std::min(best_b, Now() - t0);
  }
  return {best_a, best_b};
}

std::vector<float> Filler(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f) * scale;
  return v;
}

void Append(std::string* out, const char* fmt, double a, double b, double c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  *out += buf;
}

// x[M, K] @ w[K, N] + bias (+ GELU): fused vs the GEMM then the separate passes.
void Epilogue(Backend& be, const char* name, int64_t M, int64_t K, int64_t N, bool gelu, std::string* out) {
  const auto xv = Filler(M * K, 1.f), wv = Filler(K * N, 0.05f), bv = Filler(N, 0.1f);
  Tensor x = be.Upload("x", {M, K}, xv.data()), w = be.UploadWeight("w", {K, N}, wv.data()),
         b = be.Upload("b", {N}, bv.data()), o = be.Alloc("out", {M, N});
  const auto [fused, separate] = BestSeconds([&] { gelu ? be.MatMulGelu(x, w, b, o) : be.MatMul(x, w, &b, o); },
                                              [&] {
                                                be.MatMul(x, w, nullptr, o);
                                                be.AddRowBroadcast(o, b);
                                                if (gelu) be.GeluTanh(o);
                                              });
  *out += std::string("#   ") + name;
  Append(out, ": fused %.2f ms, separate passes %.2f ms (%.1f%% saved)\n", fused * 1e3, separate * 1e3,
         100.0 * (separate - fused) / separate);
}

// Decode: x[8, K] @ w[K, N] through the backend's GEMM (runtime/cpu/gemm.h), as weight bytes per
// second, with the weights as the backend holds them (huge pages from 64 MiB) and on 4 KiB pages.
void Decode(int threads, bool bf16, const char* name, int64_t K, int64_t N, std::string* out) {
  const int64_t M = 8;
  const auto xv = Filler(M * K, 1.f);
  const size_t bytes = static_cast<size_t>(K * N) * (bf16 ? 2 : 4);
  std::shared_ptr<char> huge = cpu::AllocHostBuffer(bytes, false, true), small = cpu::AllocHostBuffer(bytes, false, false);
  for (char* w : {huge.get(), small.get()}) {  // bf16 words 0x3c00-ish / floats of ~0.01: finite values
    for (size_t i = 0; i < bytes; i += 2) std::memcpy(w + i, "\x00\x3c", 2);
  }
  std::vector<float> o(M * N);
  auto run = [&](const char* w) {
    cpu::GemmArgs a{xv.data(), w, bf16, false, o.data(), M, N, K};
    cpu::Gemm(a, threads);
  };
  const auto [t_huge, t_small] = BestSeconds([&] { run(huge.get()); }, [&] { run(small.get()); });
  *out += std::string("#   ") + name;
  Append(out, ": %.2f GB/s of weights as held, %.2f GB/s on 4 KiB pages (%.0f MB)\n", bytes / t_huge * 1e-9,
         bytes / t_small * 1e-9, bytes * 1e-6);
}

// Prefill-shaped fp32 x[M, K] @ w[K, N] split by rows vs by 16-aligned column blocks
// (runtime/cpu/gemm_split.h), with the split Gemm would choose.
void Split(int threads, const char* name, int64_t M, int64_t K, int64_t N, std::string* out) {
  const auto xv = Filler(M * K, 1.f), wv = Filler(K * N, 0.05f);
  std::vector<float> o(M * N);
  const cpu::GemmArgs a{xv.data(), wv.data(), false, false, o.data(), M, N, K};
  const auto [rows, cols] = BestSeconds([&] { cpu::GemmWithSplit(a, threads, cpu::GemmSplit::kRows); },
                                        [&] { cpu::GemmWithSplit(a, threads, cpu::GemmSplit::kColumns); });
  const bool chosen_rows = cpu::ChooseGemmSplit(M, N, K, threads) == cpu::GemmSplit::kRows;
  *out += std::string("#   ") + name;
  Append(out, ": rows %.2f ms, columns %.2f ms (columns %.1f%% faster)", rows * 1e3, cols * 1e3,
         100.0 * (rows - cols) / rows);
  *out += chosen_rows ? ", Gemm chooses rows\n" : ", Gemm chooses columns\n";
}

// bf16 weights widened to fp32 (runtime/cpu/bf16_widen_gemm.h): the direct kernel against the
// panels + sgemm at a few row counts around kFewRowsMaxBf16, on one weight shape.
void WidenPaths(int threads, const char* name, int64_t K, int64_t N, std::string* out) {
  const auto wf = Filler(K * N, 0.05f);
  std::vector<uint16_t> w(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) w[i] = F32ToBf16(wf[i]);
  for (int64_t M : {1, 8, 16, 24, 32, 64}) {
    const auto xv = Filler(M * K, 1.f);
    std::vector<float> o(M * N);
    const cpu::GemmArgs a{xv.data(), w.data(), true, false, o.data(), M, N, K};
    const auto [direct, panels] =
        BestSeconds([&] { cpu::Bf16WidenGemm(a, threads, cpu::Bf16WidenPath::kDirect); },
                    [&] { cpu::Bf16WidenGemm(a, threads, cpu::Bf16WidenPath::kPanels); });
    char buf[256];
    std::snprintf(buf, sizeof buf, "#   widened bf16 %s, M %lld: direct %.2f ms, panels %.2f ms (%s; %s chosen)\n", name,
                  static_cast<long long>(M), direct * 1e3, panels * 1e3, direct <= panels ? "direct faster" : "panels faster",
                  cpu::FewRowsGemmPays(a) ? "direct" : "panels");
    *out += buf;
  }
}

}  // namespace

std::string MeasureKernelTimings(int threads) {
  std::string out;
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    BackendOptions o;
    o.threads = threads;
    o.weight_dtype = dtype;
    auto be = MakeBackend("cpu", o);
    out += std::string("# kernels, ") + (dtype == DType::kF32 ? "fp32" : std::string("bf16 ") + cpu::Bf16GemmKindName(cpu::Bf16GemmKindHere())) + " weights, " +
           std::to_string(threads) + " threads:\n";
    Epilogue(*be, "ViT fc1 + bias + GELU, [1568, 768] x [768, 3072]", 1568, 768, 3072, true, &out);
    Epilogue(*be, "ViT fc2 + bias, [1568, 3072] x [3072, 768]", 1568, 3072, 768, false, &out);
    Epilogue(*be, "ViT qkv + bias, [1568, 768] x [768, 2304]", 1568, 768, 2304, false, &out);
    const bool bf16 = dtype == DType::kBF16;
    if (!bf16) {
      Split(threads, "split: ViT fc1, [1568, 768] x [768, 3072]", 1568, 768, 3072, &out);
      Split(threads, "split: ViT qkv, [1568, 768] x [768, 2304]", 1568, 768, 2304, &out);
      Split(threads, "split: ViT fc2, [1568, 3072] x [3072, 768]", 1568, 3072, 768, &out);
      Split(threads, "split: prefill mid gate|up (4 images), [1056, 1024] x [1024, 8192]", 1056, 1024, 8192, &out);
    }
    Decode(threads, bf16, "decode mid gate|up, [8, 1024] x [1024, 8192]", 1024, 8192, &out);
    Decode(threads, bf16, "decode mid down, [8, 4096] x [4096, 1024]", 4096, 1024, &out);
    Decode(threads, bf16, "decode 3B gate|up, [8, 2048] x [2048, 32768]", 2048, 32768, &out);
    Decode(threads, bf16, "decode 3B down, [8, 16384] x [16384, 2048]", 16384, 2048, &out);
    if (bf16) WidenPaths(threads, "mid gate|up [M, 1024] x [1024, 8192]", 1024, 8192, &out);
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace pg
