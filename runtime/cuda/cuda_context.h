// Device state of the CUDA backend:
//  - CudaContext: the device, the stream every op is enqueued on, and stream-ordered device
//    memory (cudaMallocAsync from the device's default pool, kept cached). Every tensor the
//    backend allocates holds a shared_ptr to it in its deleter, so a tensor may outlive the
//    backend; the stream is destroyed when the last of them is gone.
//  - DeviceScratch: a grow-only device buffer (bf16 GEMM operands, the cuBLAS workspace).
//  - DeviceMirror: small host metadata (positions, token ids, mask lengths) copied to the
//    device only when its bytes change, so the per-layer calls of one step upload it once.
//    The copy goes through a pinned staging buffer guarded by an event, so the caller's vector
//    may be freed as soon as the op returns and the host never waits on the stream.
// Everything is ordered on the one stream, so reusing a buffer after enqueueing work that
// reads it is safe without host synchronisation.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pg {
namespace cuda {

class StepGraphs;

class CudaContext {
 public:
  explicit CudaContext(int device);  // makes `device` current, creates the stream
  ~CudaContext();                    // drains and destroys the stream
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  // `bytes` of device memory, usable by work enqueued on stream() after this call.
  void* Malloc(size_t bytes, const char* op);
  // Frees on stream() after the work already enqueued; never throws (runs in deleters).
  void Free(void* p) noexcept;

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  bool stream_ordered_ = false;  // the device supports cudaMallocAsync
};

class DeviceScratch {
 public:
  // At least `bytes` of device memory; the previous contents are not kept when it grows.
  void* Reserve(CudaContext& ctx, size_t bytes, const char* op);
  void Release(CudaContext& ctx) noexcept;

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

class DeviceMirror {
 public:
  // Device copy of host[0, bytes), enqueued on the stream when it differs from the last one.
  // Inside a CUDA graph step (runtime/cuda/step_graph.cc): through per-upload pinned slots.
  const void* Get(CudaContext& ctx, const void* host, size_t bytes, const char* op);
  void Release(CudaContext& ctx) noexcept;

 private:
  const void* GetInStep(StepGraphs& step, CudaContext& ctx, const void* host, size_t bytes, const char* op);
  void ReleaseSlots() noexcept;
  struct Slot {
    unsigned char* data = nullptr;  // pinned
    size_t bytes = 0, capacity = 0;
  };
  std::vector<Slot> slots_;  // the step's uploads, in order (step_graph.cc)
  uint64_t step_epoch_ = 0;
  size_t step_used_ = 0;
  unsigned char* staged_ = nullptr;  // pinned copy of the last upload
  size_t staged_bytes_ = 0, staged_capacity_ = 0;
  bool valid_ = false;
  cudaEvent_t copied_ = nullptr;  // recorded after the copy out of staged_
  DeviceScratch device_;
};

}  // namespace cuda
}  // namespace pg
