// Internal hooks between the CUDA emulation (cuda_emu.cc) and its stream capture / graphs
// (graph_emu.cc). Not part of the emulated CUDA API (include/).
#pragma once

#include <functional>
#include <string>

#include "cuda_runtime.h"

namespace pgemu {

// Records `why` as the thread's last error (cudaGetLastError) and prints it; returns e.
cudaError_t SetLastError(cudaError_t e, const std::string& why);
// Whether `stream` is being captured (a cheap check when nothing captures).
bool IsCapturing(cudaStream_t stream);
// Appends `node` to the capture of `stream` (which IsCapturing); it runs at each cudaGraphLaunch.
void CaptureNode(cudaStream_t stream, std::function<void()> node);
// An operation that may not be enqueued on a capturing stream (a host wait, an allocation node
// the emulation does not model): cudaSuccess, or the error, with the capture invalidated.
cudaError_t CheckNotCapturing(cudaStream_t stream, const char* call);
// A call that is not allowed while this thread captures in global or thread-local mode
// (allocations, synchronous copies, device-wide waits): cudaSuccess, or the error.
cudaError_t CheckNoUnsafeCall(const char* call);
// Events recorded on a capturing stream cannot be waited on by the host.
void NoteEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t CheckEventWait(cudaEvent_t event, const char* call);
// True while cudaGraphLaunch runs a graph's nodes on this thread.
bool InGraphLaunch();

}  // namespace pgemu
