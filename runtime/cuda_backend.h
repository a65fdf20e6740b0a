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

// The cudaStream_t (as void*) a CUDA backend enqueues every op on. Pass it to
// MakeNcclCommunicator so collectives are ordered after the ops that produce their buffers.
// Throws for a backend that is not CUDA, and in a build without CUDA.
void* CudaBackendStream(Backend& backend);

}  // namespace pg
