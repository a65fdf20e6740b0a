// CpuBackend: the fp32 reference backend. GEMMs go through OpenBLAS (cblas_sgemm); the
// other ops are plain loops written for clarity, checked by tests/cpu_backend_test.cc.
#pragma once

#include <memory>

#include "runtime/backend.h"

namespace pg {

std::unique_ptr<Backend> MakeCpuBackend(const BackendOptions& options);

}  // namespace pg
