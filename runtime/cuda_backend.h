// CudaBackend factory. Defined in runtime/cuda/ when built with CUDA, and by
// runtime/cuda_backend_unavailable.cc (a clear error) otherwise. docs/CUDA_BACKEND.md
// describes the backend (precision, streams, memory).
#pragma once

#include <memory>
#include <string>

#include "runtime/backend.h"

namespace pg {

std::unique_ptr<Backend> MakeCudaBackend(const BackendOptions& options);

// True when this build has CUDA and device 0 can run its kernels; otherwise false, with the
// reason ("built without CUDA", "no CUDA device is visible ...") in *why (may be null).
bool CudaDeviceAvailable(std::string* why);

// The CUDA device a rank asked for as `requested` (its local rank) wrapped onto the devices this
// process sees: requested % cudaGetDeviceCount() (which honours CUDA_VISIBLE_DEVICES), so ranks
// can share a GPU (one GPU per host, or Slurm giving each task one visible device). Returns
// `requested` unchanged when no device is visible (the caller reports that) or in a build
// without CUDA.
int ResolveCudaDevice(int requested);

// The device ordinal a CUDA backend runs on (after ResolveCudaDevice). Throws for a backend that
// is not CUDA, and in a build without CUDA.
int CudaBackendDevice(Backend& backend);

// The cudaStream_t (as void*) a CUDA backend enqueues every op on. Pass it to
// MakeNcclCommunicator so collectives are ordered after the ops that produce their buffers.
// Throws for a backend that is not CUDA, and in a build without CUDA.
void* CudaBackendStream(Backend& backend);

// Free and total memory of a CUDA backend's device in bytes (cudaMemGetInfo on its device; free
// excludes what is already allocated, weights included). Throws for a backend that is not CUDA,
// and in a build without CUDA.
struct DeviceMemoryInfo {
  int64_t free_bytes = 0, total_bytes = 0;
};
DeviceMemoryInfo CudaBackendMemory(Backend& backend);

}  // namespace pg
