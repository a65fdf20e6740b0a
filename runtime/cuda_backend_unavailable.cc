#include "runtime/check.h"
#include "runtime/cuda_backend.h"

namespace pg {

std::unique_ptr<Backend> MakeCudaBackend(const BackendOptions&) {
  PG_THROW("backend 'cuda': this build has no CUDA support; rebuild with -DPG_WITH_CUDA=ON "
           "(nvcc from /usr/local/cuda) or use --backend cpu");
}

}  // namespace pg
