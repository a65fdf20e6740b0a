#include "runtime/check.h"
#include "runtime/cuda_backend.h"

namespace pg {

std::unique_ptr<Backend> MakeCudaBackend(const BackendOptions&) {
  PG_THROW("backend 'cuda': this build has no CUDA support; rebuild with -DPG_WITH_CUDA=ON "
           "(nvcc from /usr/local/cuda) or use --backend cpu");
}

bool CudaDeviceAvailable(std::string* why) {
  if (why) *why = "built without CUDA (configure with -DPG_WITH_CUDA=ON)";
  return false;
}

int ResolveCudaDevice(int requested) { return requested; }

int CudaBackendDevice(Backend& backend) {
  PG_THROW("backend '" << backend.name() << "' has no CUDA device: this build has no CUDA support");
}

void* CudaBackendStream(Backend& backend) {
  PG_THROW("backend '" << backend.name() << "' has no CUDA stream: this build has no CUDA support");
}

DeviceMemoryInfo CudaBackendMemory(Backend& backend) {
  PG_THROW("backend '" << backend.name() << "' has no CUDA device memory: this build has no CUDA support");
}

}  // namespace pg
