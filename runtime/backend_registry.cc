#include "runtime/backend.h"
#include "runtime/cpu_backend.h"
#include "runtime/cuda_backend.h"

namespace pg {

std::unique_ptr<Backend> MakeBackend(const std::string& name, const BackendOptions& options) {
  if (name == "cpu") return MakeCpuBackend(options);
  if (name == "cuda") return MakeCudaBackend(options);
  PG_THROW("unknown backend '" << name << "': expected 'cpu' or 'cuda'");
}

}  // namespace pg
