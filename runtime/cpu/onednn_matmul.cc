#include "runtime/cpu/onednn_matmul.h"

#include <omp.h>

#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "runtime/check.h"
#include "runtime/cpu/gemm.h"
#include "runtime/cpu/parallel.h"
#include "runtime/dtype.h"

namespace pg::cpu {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct Engine {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mutex mu;
  // (M, N, K, trans_w, bias, gelu) -> primitive
  std::map<std::tuple<int64_t, int64_t, int64_t, bool, bool, bool>, dnnl::matmul> cache;
};

Engine& Get() {
  static Engine e;
  return e;
}

dnnl::memory::desc BiasDesc(int64_t N) { return dnnl::memory::desc({1, N}, dt::f32, tag::ab); }

dnnl::matmul Primitive(Engine& e, int64_t M, int64_t N, int64_t K, bool trans_w, bool bias, bool gelu) {
  std::lock_guard<std::mutex> lock(e.mu);
  const auto key = std::make_tuple(M, N, K, trans_w, bias, gelu);
  auto it = e.cache.find(key);
  if (it != e.cache.end()) return it->second;
  dnnl::memory::desc src({M, K}, dt::bf16, tag::ab);
  // W^T stored [N, K] row-major is the [K, N] matrix in "ba" order.
  dnnl::memory::desc wei({K, N}, dt::bf16, trans_w ? tag::ba : tag::ab);
  dnnl::memory::desc dst({M, N}, dt::f32, tag::ab);
  // The epilogue inside the kernel: the bias ([1, N] f32, added to the fp32 accumulator) and
  // GELU-tanh as an eltwise post-op.
  dnnl::primitive_attr attr;
  if (gelu) {
    dnnl::post_ops po;
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_tanh, 0.f, 0.f);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::desc d = bias ? dnnl::matmul::desc(src, wei, BiasDesc(N), dst) : dnnl::matmul::desc(src, wei, dst);
  dnnl::matmul prim(dnnl::matmul::primitive_desc(d, attr, e.engine));
  e.cache.emplace(key, prim);
  return prim;
}

}  // namespace

bool CpuHasNativeBf16() {
  static const bool has = [] {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  }();
  return has;
}

void OneDnnBf16Gemm(const GemmArgs& a, int threads) {
  Engine& e = Get();
  // x -> bf16 (round to nearest even), on the backend's threads.
  thread_local std::vector<uint16_t> xb_buf;  // this (calling) thread's; the workers write through `xb`
  xb_buf.resize(static_cast<size_t>(a.M * a.K));
  uint16_t* xb = xb_buf.data();
  ParallelFor(threads, a.M * a.K, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) xb[i] = F32ToBf16(a.x[i]);
  });
  dnnl::matmul prim = Primitive(e, a.M, a.N, a.K, a.trans_w, a.bias != nullptr, a.gelu);
  dnnl::memory src({{a.M, a.K}, dt::bf16, tag::ab}, e.engine, xb);
  dnnl::memory wei({{a.K, a.N}, dt::bf16, a.trans_w ? tag::ba : tag::ab}, e.engine, const_cast<void*>(a.w));
  dnnl::memory dst({{a.M, a.N}, dt::f32, tag::ab}, e.engine, a.out);
  omp_set_num_threads(threads);  // oneDNN's OpenMP runtime uses the calling thread's team size
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (a.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(BiasDesc(a.N), e.engine, const_cast<float*>(a.bias)));
  prim.execute(e.stream, args);
  e.stream.wait();
}

}  // namespace pg::cpu
