#include "runtime/cuda/cuda_context.h"

#include <cstdint>
#include <cstring>

#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/step_graph.h"

namespace pg {
namespace cuda {

CudaContext::CudaContext(int device) : device_(device) {
  CUDA_CHECK(cudaSetDevice(device), "MakeCudaBackend (device " << device << ")");
  // A blocking stream: ordered with the legacy default stream, so collectives or copies that
  // other code enqueues there (stream nullptr) still see this stream's results.
  CUDA_CHECK(cudaStreamCreate(&stream_), "MakeCudaBackend");
  int pools = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device), "MakeCudaBackend");
  stream_ordered_ = pools != 0;
  if (stream_ordered_) {
    // Keep freed blocks in the pool instead of returning them at every synchronisation: the
    // model allocates and frees its step buffers on every forward call.
    cudaMemPool_t pool;
    CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device), "MakeCudaBackend");
    uint64_t keep = UINT64_MAX;
    CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), "MakeCudaBackend");
  }
}

CudaContext::~CudaContext() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  cudaStreamDestroy(stream_);
}

void* CudaContext::Malloc(size_t bytes, const char* op) {
  RequireEager(stream_, op);  // no allocation inside a captured or replayed step
  void* p = nullptr;
  if (stream_ordered_) {
    CUDA_CHECK(cudaMallocAsync(&p, bytes, stream_), op << " (allocating " << bytes << " bytes)");
  } else {
    CUDA_CHECK(cudaMalloc(&p, bytes), op << " (allocating " << bytes << " bytes)");
  }
  return p;
}

void CudaContext::Free(void* p) noexcept {
  if (!p) return;
  if (StepGraphs* step = ActiveStep(stream_); step && step->mode() == StepGraphs::Mode::kCapture) {
    step->DeferFree(p);  // not a node of the graph
    return;
  }
  if (stream_ordered_) {
    cudaFreeAsync(p, stream_);
  } else {
    cudaFree(p);
  }
}

void* DeviceScratch::Reserve(CudaContext& ctx, size_t bytes, const char* op) {
  if (bytes <= capacity_ && data_) return data_;
  Release(ctx);
  const size_t grown = bytes + bytes / 4 + 256;  // room to grow a little without reallocating
  data_ = ctx.Malloc(grown, op);
  capacity_ = grown;
  return data_;
}

void DeviceScratch::Release(CudaContext& ctx) noexcept {
  ctx.Free(data_);
  data_ = nullptr;
  capacity_ = 0;
}

const void* DeviceMirror::Get(CudaContext& ctx, const void* host, size_t bytes, const char* op) {
  if (StepGraphs* step = ActiveStep(ctx.stream())) return GetInStep(*step, ctx, host, bytes, op);
  if (valid_ && staged_bytes_ == bytes && (bytes == 0 || std::memcmp(staged_, host, bytes) == 0))
    return device_.Reserve(ctx, bytes, op);
  valid_ = false;
  void* d = device_.Reserve(ctx, bytes, op);
  if (bytes == 0) return d;
  if (!copied_) CUDA_CHECK(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming), op);
  CUDA_CHECK(cudaEventSynchronize(copied_), op);  // the previous copy out of staged_ is done
  if (bytes > staged_capacity_) {
    if (staged_) cudaFreeHost(staged_);
    staged_ = nullptr;
    staged_capacity_ = 0;
    void* p = nullptr;
    CUDA_CHECK(cudaMallocHost(&p, bytes), op << " (pinned staging of " << bytes << " bytes)");
    staged_ = static_cast<unsigned char*>(p);
    staged_capacity_ = bytes;
  }
  std::memcpy(staged_, host, bytes);
  CUDA_CHECK(cudaMemcpyAsync(d, staged_, bytes, cudaMemcpyHostToDevice, ctx.stream()), op);
  CUDA_CHECK(cudaEventRecord(copied_, ctx.stream()), op);
  staged_bytes_ = bytes;
  valid_ = true;
  return d;
}

void DeviceMirror::Release(CudaContext& ctx) noexcept {
  if (copied_) {
    cudaEventSynchronize(copied_);
    cudaEventDestroy(copied_);
    copied_ = nullptr;
  }
  if (staged_) cudaFreeHost(staged_);
  staged_ = nullptr;
  staged_bytes_ = staged_capacity_ = 0;
  valid_ = false;
  ReleaseSlots();
  device_.Release(ctx);
}

}  // namespace cuda
}  // namespace pg
