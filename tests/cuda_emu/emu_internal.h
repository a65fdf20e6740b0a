// Internals of the CUDA emulation shared by its files (tests/cuda_emu/cuda_emu.cc defines them).
#pragma once

#include <cstddef>
#include <string>

#include "cuda_runtime.h"

namespace pgemu {

// Records `e` as the last error (cudaGetLastError) and prints "[cuda-emu] <name>: why" on stderr.
cudaError_t RecordError(cudaError_t e, const std::string& why);
// [p, p + bytes) lies inside one live device allocation.
bool IsDeviceRange(const void* p, size_t bytes);
// Where p lies (allocation base, size, offset), for error messages.
std::string DescribeRange(const void* p, size_t bytes);
// cudaSuccess for the legacy stream or a live created stream.
cudaError_t CheckLiveStream(cudaStream_t s, const char* call);

}  // namespace pgemu
