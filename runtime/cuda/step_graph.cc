// CUDA graphs for the decode step: StepGraphs::Run (warm-up, capture, signature-checked replay),
// the enqueue gates, and DeviceMirror's uploads inside a step. See step_graph.h.
#include "runtime/cuda/step_graph.h"

#include <cstdio>

#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda/cuda_context.h"

namespace pg {
namespace cuda {
namespace {

thread_local StepGraphs* g_active = nullptr;
thread_local cudaStream_t g_active_stream = nullptr;

}  // namespace

StepGraphs* ActiveStep(cudaStream_t stream) {
  return g_active && g_active_stream == stream ? g_active : nullptr;
}

void RequireEager(cudaStream_t stream, const char* op) {
  const StepGraphs* s = ActiveStep(stream);
  if (s && s->capturing_or_replaying()) throw StepNotGraphable(std::string(op) + " inside a CUDA graph step");
}

cudaError_t GatedMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (ActiveStep(stream)) {
    LaunchSignature sig;
    sig.Add(dst).Add(src).Add(bytes).Add(kind);
    if (!Admit(stream, sig, "cudaMemcpyAsync")) return cudaSuccess;
  }
  return cudaMemcpyAsync(dst, src, bytes, kind, stream);
}

cudaError_t GatedMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  if (ActiveStep(stream)) {
    LaunchSignature sig;
    sig.Add(p).Add(value).Add(bytes);
    if (!Admit(stream, sig, "cudaMemsetAsync")) return cudaSuccess;
  }
  return cudaMemsetAsync(p, value, bytes, stream);
}

StepGraphs::StepGraphs(cudaStream_t stream, bool enabled, bool sync_after_launch)
    : stream_(stream), enabled_(enabled), sync_after_launch_(sync_after_launch) {}

StepGraphs::~StepGraphs() {
  for (auto& kv : entries_)
    if (kv.second.exec) cudaGraphExecDestroy(kv.second.exec);
  if (done_) {
    cudaEventSynchronize(done_);
    cudaEventDestroy(done_);
  }
}

void StepGraphs::Activate(Mode mode) {
  mode_ = mode;
  cursor_ = 0;
  spoiled_ = false;
  why_.clear();
  ++epoch_;
  g_active = this;
  g_active_stream = stream_;
}

void StepGraphs::Deactivate() noexcept {
  g_active = nullptr;
  g_active_stream = nullptr;
  entry_ = nullptr;
}

void StepGraphs::AbortCapture() noexcept {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream_, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(stream_, &g);
    if (g) cudaGraphDestroy(g);
  }
  cudaGetLastError();  // an invalidated capture's error belongs to this attempt
}

bool StepGraphs::Admit(const LaunchSignature& sig, const char* what) {
  if (mode_ == Mode::kWarmup) return true;
  const std::vector<unsigned char>& b = sig.bytes();
  Entry& e = *entry_;
  if (mode_ == Mode::kCapture) {
    e.sig.insert(e.sig.end(), b.begin(), b.end());
    e.ends.push_back(e.sig.size());
    e.names.push_back(what);
    return true;
  }
  // Replay: the op at this position must be the recorded one, byte for byte.
  if (spoiled_) return false;
  const size_t begin = cursor_ == 0 ? 0 : e.ends[cursor_ - 1];
  if (cursor_ >= e.ends.size() || e.ends[cursor_] - begin != b.size() ||
      std::memcmp(e.sig.data() + begin, b.data(), b.size()) != 0) {
    spoiled_ = true;
    why_ = "op " + std::to_string(cursor_) + " (" + what + ") differs from the recorded " +
           (cursor_ < e.names.size() ? e.names[cursor_] : "end of the graph");
    return false;
  }
  ++cursor_;
  return false;
}

void StepGraphs::RunEager(const std::function<void()>& forward, bool warmup) {
  ++stats_.eager_steps;
  if (!warmup) {
    forward();
    return;
  }
  Activate(Mode::kWarmup);
  try {
    forward();
  } catch (...) {
    Deactivate();
    throw;
  }
  Deactivate();
}

bool StepGraphs::ForwardUnderCapture(Entry& e, Mode mode, const std::function<void()>& forward) {
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "RunStep");
  Activate(mode);
  entry_ = &e;
  try {
    forward();
  } catch (const StepNotGraphable& x) {
    Deactivate();
    AbortCapture();
    why_ = x.what();
    return false;
  } catch (...) {
    Deactivate();
    AbortCapture();
    throw;
  }
  Deactivate();
  return true;
}

bool StepGraphs::Capture(Entry& e, const std::function<void()>& forward) {
  e.sig.clear();
  e.ends.clear();
  e.names.clear();
  CUDA_CHECK(cudaStreamSynchronize(stream_), "RunStep (before a capture)");
  if (!ForwardUnderCapture(e, Mode::kCapture, forward)) return false;
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
  for (void* p : deferred_frees_) cudaFreeAsync(p, stream_);
  deferred_frees_.clear();
  if (end != cudaSuccess || !graph) {
    cudaGetLastError();
    why_ = std::string("capture failed: ") + cudaGetErrorName(end);
    return false;
  }
  const cudaError_t inst = cudaGraphInstantiate(&e.exec, graph, 0);
  cudaGraphDestroy(graph);
  if (inst != cudaSuccess) {
    cudaGetLastError();
    e.exec = nullptr;
    why_ = std::string("cudaGraphInstantiate: ") + cudaGetErrorName(inst);
    return false;
  }
  return true;
}

bool StepGraphs::Replay(Entry& e, const std::function<void()>& forward) {
  // The stream is captured into a throw-away graph meanwhile: an enqueue that bypassed the gates
  // lands there instead of running, and shows up as a node.
  if (!ForwardUnderCapture(e, Mode::kReplay, forward)) return false;
  cudaGraph_t stray = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream_, &stray);
  size_t nodes = 0;
  if (stray) cudaGraphGetNodes(stray, nullptr, &nodes);
  if (stray) cudaGraphDestroy(stray);
  if (end != cudaSuccess) {
    cudaGetLastError();
    why_ = std::string("replay check: ") + cudaGetErrorName(end);
    return false;
  }
  if (nodes > 0) {
    why_ = std::to_string(nodes) + " operation(s) enqueued past the launch gates";
    return false;
  }
  if (spoiled_) return false;
  if (cursor_ != e.ends.size()) {
    why_ = "the step issued " + std::to_string(cursor_) + " of the " + std::to_string(e.ends.size()) +
           " recorded operations";
    return false;
  }
  return true;
}

void StepGraphs::Launch(Entry& e) {
  CUDA_CHECK(cudaGraphLaunch(e.exec, stream_), "RunStep (cudaGraphLaunch)");
  CUDA_CHECK(cudaGetLastError(), "RunStep (graph)");
  if (sync_after_launch_) CUDA_CHECK(cudaStreamSynchronize(stream_), "RunStep (graph)");
}

void StepGraphs::Fail(Entry& e, const StepKey& key) {
  ++stats_.mismatches;
  if (e.exec) cudaGraphExecDestroy(e.exec);
  e.exec = nullptr;
  if (++e.failures < kMaxGraphFailures) return;
  e.abandoned = true;
  ++stats_.abandoned_keys;
  std::fprintf(stderr,
               "[cuda] CUDA graphs: the step of batch %lld (cache %lld) could not be replayed %d times (last: %s); "
               "it runs without a graph from now on\n",
               static_cast<long long>(key.batch), static_cast<long long>(key.cache_len), e.failures, why_.c_str());
}

void StepGraphs::Run(const StepKey& key, const std::function<void()>& forward) {
  if (!enabled_ || key.collectives) return RunEager(forward, false);
  Entry& e = entries_[key];
  if (e.abandoned) return RunEager(forward, false);
  // The previous step's copies read the pinned slots this step rewrites.
  if (done_) CUDA_CHECK(cudaEventSynchronize(done_), "RunStep");
  else CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "RunStep");
  bool launched = false;
  if (e.warm && e.exec) {
    if (Replay(e, forward)) {
      Launch(e);
      ++stats_.replays;
      launched = true;
    } else {
      Fail(e, key);
    }
  }
  if (!launched && e.warm && !e.abandoned) {
    if (Capture(e, forward)) {
      Launch(e);
      ++stats_.captures;
      launched = true;
    } else {
      Fail(e, key);
      e.warm = false;  // e.g. a buffer had to grow: warm up again
    }
  }
  if (!launched) {
    RunEager(forward, !e.abandoned);
    e.warm = true;
  }
  CUDA_CHECK(cudaEventRecord(done_, stream_), "RunStep");
}

// ---- DeviceMirror inside a step ----------------------------------------------------------------
// The first upload of a step and every change within it go through their own pinned slot (slot
// i = the i-th upload of the step), so the graph's copy nodes, which read their slot when the
// graph runs, each find their own bytes; replay writes the slots and the copies are skipped.
const void* DeviceMirror::GetInStep(StepGraphs& step, CudaContext& ctx, const void* host, size_t bytes,
                                    const char* op) {
  valid_ = false;  // the device copy now follows the step's uploads: the eager path re-uploads
  void* d = device_.Reserve(ctx, bytes, op);
  if (step_epoch_ != step.epoch()) {
    step_epoch_ = step.epoch();
    step_used_ = 0;
  }
  if (step_used_ > 0) {
    const Slot& last = slots_[step_used_ - 1];
    if (last.bytes == bytes && (bytes == 0 || std::memcmp(last.data, host, bytes) == 0)) return d;
  }
  if (bytes == 0) return d;
  if (step_used_ == slots_.size()) slots_.emplace_back();
  Slot& s = slots_[step_used_++];
  if (s.capacity < bytes) {
    RequireEager(ctx.stream(), "pinned staging allocation");
    if (s.data) cudaFreeHost(s.data);
    s.data = nullptr;
    s.capacity = 0;
    void* p = nullptr;
    CUDA_CHECK(cudaMallocHost(&p, bytes), op << " (pinned staging of " << bytes << " bytes)");
    s.data = static_cast<unsigned char*>(p);
    s.capacity = bytes;
  }
  std::memcpy(s.data, host, bytes);
  s.bytes = bytes;
  CUDA_CHECK(GatedMemcpyAsync(d, s.data, bytes, cudaMemcpyHostToDevice, ctx.stream()), op);
  return d;
}

void DeviceMirror::ReleaseSlots() noexcept {
  for (Slot& s : slots_)
    if (s.data) cudaFreeHost(s.data);
  slots_.clear();
  step_used_ = 0;
}

}  // namespace cuda
}  // namespace pg
