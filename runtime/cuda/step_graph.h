// CUDA graphs for the decode step (docs/CUDA_BACKEND.md, "CUDA graphs"): CudaBackend::RunStep
// keeps one graph per StepKey (batch bucket, cache length) and replays it only when the step
// would have issued exactly the recorded launches.
//
// Per key: the first step runs eagerly (warm-up: scratch buffers and pinned metadata slots reach
// their size); the second is captured (cudaStreamBeginCapture, forward(), EndCapture,
// Instantiate) while every enqueue records its launch signature (kernel, grid, block, shared
// memory and the bytes of its argument struct with the padding cleared; cuBLAS: the call's
// operands and scalars; copies: dst, src, bytes), then the graph is launched; later steps run
// forward() in replay mode: each op computes its launch exactly as usual and writes its
// metadata into the pinned slots the graph's copy nodes read, but enqueues nothing and compares
// its signature with the recorded one at the same position. All equal: one cudaGraphLaunch.
// Any difference: nothing was launched, the graph is dropped and the step is captured again;
// after kMaxGraphFailures failures the key runs eagerly for good (logged once).
// In replay mode the stream is captured into a throw-away graph, so an enqueue that bypassed
// the gates below (a new op not yet gated) is captured instead of executed, and the step falls
// back to an eager run: replay is correct by construction.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/backend.h"

namespace pg {
namespace cuda {

// Thrown by an op that cannot be part of a graph (an allocation, a download, a host wait) while a
// step is captured or replayed; RunStep catches it and runs the step eagerly.
struct StepNotGraphable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The bytes that identify one enqueued operation.
class LaunchSignature {
 public:
  template <class T>
  LaunchSignature& Add(const T& value) {
    static_assert(std::is_trivially_copyable<T>::value, "a launch signature holds plain bytes");
    T copy = value;
#if !defined(__CUDA_ARCH__)
    __builtin_clear_padding(&copy);  // padding bytes of an argument struct are unspecified
#endif
    const unsigned char* p = reinterpret_cast<const unsigned char*>(&copy);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
    return *this;
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
};

struct StepGraphStats {
  int64_t eager_steps = 0;    // steps run without a graph (warm-up, fallback, graphs off)
  int64_t captures = 0;       // graphs captured and launched
  int64_t replays = 0;        // steps that launched a recorded graph
  int64_t mismatches = 0;     // replays refused: a launch differed, or an op could not be graphed
  int64_t abandoned_keys = 0;  // keys that now always run eagerly
};

constexpr int kMaxGraphFailures = 8;  // per key, then eager for good

class StepGraphs {
 public:
  enum class Mode { kWarmup, kCapture, kReplay };
  StepGraphs(cudaStream_t stream, bool enabled, bool sync_after_launch);
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  void Run(const StepKey& key, const std::function<void()>& forward);

  // ---- for the ops, while this step is active on the calling thread ----
  Mode mode() const { return mode_; }
  bool capturing_or_replaying() const { return mode_ != Mode::kWarmup; }
  uint64_t epoch() const { return epoch_; }  // changes with every step
  // Capture: records the signature, true (enqueue). Replay: compares it, false (do not enqueue).
  bool Admit(const LaunchSignature& sig, const char* what);
  // A device free during capture (a tensor dropped inside the step): done after the capture.
  void DeferFree(void* p) { deferred_frees_.push_back(p); }

  bool enabled() const { return enabled_; }
  const StepGraphStats& stats() const { return stats_; }

 private:
  struct Entry {
    bool warm = false, abandoned = false;
    int failures = 0;
    cudaGraphExec_t exec = nullptr;
    std::vector<unsigned char> sig;  // the recorded signatures, back to back
    std::vector<size_t> ends;        // end offset of each op's signature in sig
    std::vector<const char*> names;  // each op, for the log
  };
  void RunEager(const std::function<void()>& forward, bool warmup);
  // forward() in `mode` while the stream captures; false (why_ set, capture dropped) when an op
  // was not graphable. The caller ends the capture.
  bool ForwardUnderCapture(Entry& e, Mode mode, const std::function<void()>& forward);
  bool Capture(Entry& e, const std::function<void()>& forward);
  bool Replay(Entry& e, const std::function<void()>& forward);
  void Launch(Entry& e);
  void Fail(Entry& e, const StepKey& key);
  void Activate(Mode mode);
  void Deactivate() noexcept;
  void AbortCapture() noexcept;  // ends a capture in progress, drops its graph

  cudaStream_t stream_;
  bool enabled_, sync_after_launch_;
  std::map<StepKey, Entry> entries_;
  cudaEvent_t done_ = nullptr;  // after the last step's work: its pinned slots may be rewritten
  Mode mode_ = Mode::kWarmup;
  uint64_t epoch_ = 0;
  // Capture / replay cursor.
  Entry* entry_ = nullptr;
  size_t cursor_ = 0;
  bool spoiled_ = false;
  std::string why_;  // the first difference, for the log
  std::vector<void*> deferred_frees_;
  StepGraphStats stats_;
};

// The step running on this thread on `stream`, or null (eager, no step).
StepGraphs* ActiveStep(cudaStream_t stream);
// Throws StepNotGraphable when a step on `stream` is captured or replayed: `op` needs the host.
void RequireEager(cudaStream_t stream, const char* op);
// Whether an op on `stream` may wait on the host for its result (PG_CUDA_SYNC).
inline bool MayWaitOnHost(cudaStream_t stream) {
  const StepGraphs* s = ActiveStep(stream);
  return !s || !s->capturing_or_replaying();
}
// The gate of every enqueue: true = enqueue now (no step, warm-up, capture).
inline bool Admit(cudaStream_t stream, const LaunchSignature& sig, const char* what) {
  StepGraphs* s = ActiveStep(stream);
  return !s || s->Admit(sig, what);
}
// cudaMemcpyAsync / cudaMemsetAsync through the gate (cudaSuccess when replay skips them).
cudaError_t GatedMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t GatedMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream);

#if defined(__CUDACC__) || defined(PG_CUDA_EMU)  // .cu files (and the emulation) only
// PG_LAUNCH's gate (device_util.h): kernel<<<grid, block, smem, stream>>>(params...) unless a
// replayed step says the graph already holds this launch.
template <class... P>
struct GatedKernelLaunch {
  void (*kernel)(P...);
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  const char* name;
  template <class... A>
  void operator()(const A&... args) const {
    Run(static_cast<P>(args)...);
  }
  void Run(P... params) const {
    if (ActiveStep(stream)) {
      LaunchSignature sig;
      sig.Add(kernel).Add(grid.x).Add(grid.y).Add(grid.z).Add(block.x).Add(block.y).Add(block.z).Add(smem);
      (sig.Add(params), ...);
      if (!Admit(stream, sig, name)) return;
    }
#ifdef PG_CUDA_EMU
    ::pgemu::MakeLaunch(kernel, grid, block, smem, stream, name)(params...);
#else
    kernel<<<grid, block, smem, stream>>>(params...);
#endif
  }
};
template <class... P>
GatedKernelLaunch<P...> MakeGatedLaunch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                                        cudaStream_t stream, const char* name) {
  return GatedKernelLaunch<P...>{kernel, grid, block, smem, stream, name};
}
#endif

}  // namespace cuda
}  // namespace pg
