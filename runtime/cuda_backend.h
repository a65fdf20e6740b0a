// CudaBackend factory. Defined in runtime/cuda/ when built with CUDA, and by
// runtime/cuda_backend_unavailable.cc (a clear error) otherwise.
#pragma once

#include <memory>

#include "runtime/backend.h"

namespace pg {

std::unique_ptr<Backend> MakeCudaBackend(const BackendOptions& options);

}  // namespace pg
