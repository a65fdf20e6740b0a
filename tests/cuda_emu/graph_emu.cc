// Stream capture and CUDA graphs in the CPU emulation of CUDA (docs/CUDA_BACKEND.md, "CUDA
// graphs"): while a stream captures, cuda_emu.cc hands every kernel launch, async copy, memset
// and cuBLAS call on it here as a closure (arguments by value, as a graph node keeps them; a
// copy node reads its source when the graph runs, as a real one does from pinned memory)
// instead of running it. cudaGraphLaunch runs the closures in order. The capture rules the
// backend must respect are errors here, as on a device: a host wait on the capturing stream,
// an allocation or a synchronous copy while this thread captures (thread-local / global mode),
// waiting on an event recorded inside the capture; each invalidates the capture, so
// cudaStreamEndCapture fails.
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "graph_emu.h"

struct PgEmuGraph {
  std::vector<std::function<void()>> nodes;
};
struct PgEmuGraphExec {
  std::vector<std::function<void()>> nodes;
};

namespace pgemu {
namespace {

struct Capture {
  std::thread::id owner;
  cudaStreamCaptureMode mode;
  bool invalidated = false;
  std::vector<std::function<void()>> nodes;
};

std::mutex g_mu;
std::map<cudaStream_t, Capture> g_captures;
std::atomic<int> g_capture_count{0};
std::set<cudaEvent_t> g_captured_events;
std::set<const void*> g_live;  // graphs and executable graphs not yet destroyed
int64_t g_graph_launches = 0;
thread_local bool g_in_graph = false;

cudaError_t Invalidate(Capture& c, cudaError_t e, const std::string& why) {
  c.invalidated = true;
  return SetLastError(e, why + " (the stream capture is invalidated)");
}

}  // namespace

bool IsCapturing(cudaStream_t stream) {
  if (g_capture_count.load() == 0 || !stream) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  return g_captures.count(stream) != 0;
}

void CaptureNode(cudaStream_t stream, std::function<void()> node) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_captures.find(stream);
  if (it != g_captures.end() && !it->second.invalidated) it->second.nodes.push_back(std::move(node));
}

cudaError_t CheckNotCapturing(cudaStream_t stream, const char* call) {
  if (!IsCapturing(stream)) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mu);
  return Invalidate(g_captures[stream], cudaErrorStreamCaptureUnsupported,
                    std::string(call) + " on a stream that is being captured");
}

cudaError_t CheckNoUnsafeCall(const char* call) {
  if (g_capture_count.load() == 0 || g_in_graph) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mu);
  cudaError_t e = cudaSuccess;
  for (auto& kv : g_captures) {
    Capture& c = kv.second;
    const bool applies = c.mode == cudaStreamCaptureModeGlobal ||
                         (c.mode == cudaStreamCaptureModeThreadLocal && c.owner == std::this_thread::get_id());
    if (applies)
      e = Invalidate(c, cudaErrorStreamCaptureUnsupported,
                     std::string(call) + " while this thread captures a stream (not allowed in global or "
                                         "thread-local capture mode)");
  }
  return e;
}

void NoteEventRecord(cudaEvent_t event, cudaStream_t stream) {
  const bool capturing = IsCapturing(stream);
  std::lock_guard<std::mutex> lock(g_mu);
  if (capturing)
    g_captured_events.insert(event);
  else
    g_captured_events.erase(event);
}

cudaError_t CheckEventWait(cudaEvent_t event, const char* call) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_captured_events.count(event)) return cudaSuccess;
  return SetLastError(cudaErrorCapturedEvent, std::string(call) + " of an event recorded inside a stream capture");
}

bool InGraphLaunch() { return g_in_graph; }
int64_t GraphLaunchCount() { return g_graph_launches; }

}  // namespace pgemu

using pgemu::SetLastError;

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  if (!stream) return SetLastError(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture on the legacy stream");
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  if (pgemu::g_captures.count(stream))
    return SetLastError(cudaErrorIllegalState, "cudaStreamBeginCapture: the stream is already capturing");
  pgemu::Capture& c = pgemu::g_captures[stream];
  c.owner = std::this_thread::get_id();
  c.mode = mode;
  ++pgemu::g_capture_count;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  *graph = nullptr;
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  auto it = pgemu::g_captures.find(stream);
  if (it == pgemu::g_captures.end())
    return SetLastError(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not capturing");
  if (it->second.mode != cudaStreamCaptureModeRelaxed && it->second.owner != std::this_thread::get_id())
    return SetLastError(cudaErrorStreamCaptureWrongThread, "cudaStreamEndCapture from another thread");
  pgemu::Capture c = std::move(it->second);
  pgemu::g_captures.erase(it);
  --pgemu::g_capture_count;
  if (c.invalidated) return SetLastError(cudaErrorStreamCaptureInvalidated, "cudaStreamEndCapture");
  *graph = new PgEmuGraph{std::move(c.nodes)};
  pgemu::g_live.insert(*graph);
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  auto it = pgemu::g_captures.find(stream);
  *status = it == pgemu::g_captures.end() ? cudaStreamCaptureStatusNone
            : it->second.invalidated     ? cudaStreamCaptureStatusInvalidated
                                         : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  if (!graph || !pgemu::g_live.count(graph)) return SetLastError(cudaErrorInvalidValue, "cudaGraphGetNodes");
  if (nodes) return SetLastError(cudaErrorInvalidValue, "cudaGraphGetNodes: only the count is emulated");
  *count = graph->nodes.size();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  if (!graph || !pgemu::g_live.count(graph)) return SetLastError(cudaErrorInvalidValue, "cudaGraphInstantiate");
  *exec = new PgEmuGraphExec{graph->nodes};
  pgemu::g_live.insert(*exec);
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  {
    std::lock_guard<std::mutex> lock(pgemu::g_mu);
    if (!exec || !pgemu::g_live.count(exec)) return SetLastError(cudaErrorInvalidValue, "cudaGraphLaunch");
  }
  if (pgemu::IsCapturing(stream))
    return SetLastError(cudaErrorStreamCaptureUnsupported, "cudaGraphLaunch into a capture is not emulated");
  ++pgemu::g_graph_launches;
  pgemu::g_in_graph = true;
  for (const auto& node : exec->nodes) node();  // stream order: one after another
  pgemu::g_in_graph = false;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  if (!exec || !pgemu::g_live.erase(exec)) return SetLastError(cudaErrorInvalidValue, "cudaGraphExecDestroy");
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  std::lock_guard<std::mutex> lock(pgemu::g_mu);
  if (!graph || !pgemu::g_live.erase(graph)) return SetLastError(cudaErrorInvalidValue, "cudaGraphDestroy");
  delete graph;
  return cudaSuccess;
}
