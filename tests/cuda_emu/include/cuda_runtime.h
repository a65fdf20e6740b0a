// CPU emulation of the CUDA runtime subset runtime/cuda/ uses (docs/CUDA_BACKEND.md, "Checked without a GPU").
// Compiled instead of the toolkit's header when the backend is built as host C++ for the
// emulated tests: kernels run block after block, the threads of a block as fibers, so
// __syncthreads() and warp shuffles are real synchronisation points; memory calls run at once,
// in order, and check that they stay inside the allocations they name.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#ifndef PG_CUDA_EMU
#define PG_CUDA_EMU 1
#endif

// ---- qualifiers -------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// One OS thread runs all the blocks of a launch, one after another, so a function-local static
// is exactly one block's shared memory (uninitialised between blocks, as on the device).
#define __shared__ static thread_local

// ---- types --------------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInvalidResourceHandle = 33,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoKernelImageForDevice = 209,
  cudaErrorIllegalAddress = 700,
  cudaErrorMisalignedAddress = 716,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorCapturedEvent = 907,
  cudaErrorStreamCaptureWrongThread = 908,
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr { cudaDevAttrMemoryPoolsSupported = 115 };
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold = 4 };

struct PgEmuStream;
struct PgEmuEvent;
struct PgEmuPool;
typedef PgEmuStream* cudaStream_t;
typedef PgEmuEvent* cudaEvent_t;
typedef PgEmuPool* cudaMemPool_t;
constexpr unsigned cudaEventDisableTiming = 2;

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct cudaDeviceProp {
  char name[256];
  int major, minor;
  int multiProcessorCount;
  size_t totalGlobalMem;
};
struct cudaFuncAttributes {
  int maxThreadsPerBlock;
  size_t sharedSizeBytes;
};

// ---- runtime API ------------------------------------------------------------------------------
const char* cudaGetErrorName(cudaError_t e);
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);

cudaError_t cudaMalloc(void** p, size_t bytes);
// The typed overload CUDA's runtime header adds for C++.
template <class T>
inline cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// ---- stream capture and graphs (tests/cuda_emu/graph_emu.cc) ------------------------------------
// While a stream captures, kernel launches, copies, memsets and cuBLAS calls on it are recorded
// as graph nodes (arguments by value; a copy node reads its source when the graph runs) instead
// of running; host waits on it and allocations are errors that invalidate the capture.
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
struct PgEmuGraph;
struct PgEmuGraphExec;
struct PgEmuGraphNode;
typedef PgEmuGraph* cudaGraph_t;
typedef PgEmuGraphExec* cudaGraphExec_t;
typedef PgEmuGraphNode* cudaGraphNode_t;
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);

template <class F>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, F*) {
  attr->maxThreadsPerBlock = 1024;
  attr->sharedSizeBytes = 0;
  return cudaSuccess;
}

// ---- emulator internals used by the kernels -----------------------------------------------------
namespace pgemu {

struct ThreadState {
  uint3 idx;       // threadIdx
  unsigned lane;   // linear thread id % 32
  unsigned warp;   // linear thread id / 32
};
extern thread_local const ThreadState* g_thread;  // the running fiber's thread
extern thread_local uint3 g_block_idx;
extern thread_local dim3 g_block_dim, g_grid_dim;

void SyncThreads();                               // block barrier
float ShuffleXor(unsigned mask, float v, int lane_mask, int width);
int ShuffleXorInt(unsigned mask, int v, int lane_mask, int width);
void SyncWarp(unsigned mask);

// Runs body() for every thread of every block of the grid; records a launch error (as
// cudaGetLastError reports it) for an invalid configuration or a deadlocked block.
void Launch(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, const char* kernel,
            const std::function<void()>& body);

template <class K>
struct PendingLaunch {
  K* kernel;
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  const char* name;
  template <class... A>
  void operator()(A... args) const {
    K* k = kernel;
    Launch(grid, block, smem, stream, name, [=]() { k(args...); });
  }
};

template <class K>
PendingLaunch<K> MakeLaunch(K* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, const char* name) {
  return PendingLaunch<K>{kernel, grid, block, smem, stream, name};
}

// Test hooks: how many devices the emulation reports (default 1; PG_CUDA_EMU_DEVICES overrides),
// and the number of kernel launches so far.
void SetDeviceCount(int n);
// Whether [p, p + bytes) lies inside one live device allocation; if not, *why describes p
// (for the emulated NCCL's buffer checks).
bool DeviceRange(const void* p, size_t bytes, std::string* why);
int64_t LaunchCount();  // kernels launched by the host (a graph's kernels are not counted)
int64_t GraphLaunchCount();  // cudaGraphLaunch calls

}  // namespace pgemu

#define threadIdx (::pgemu::g_thread->idx)
#define blockIdx (::pgemu::g_block_idx)
#define blockDim (::pgemu::g_block_dim)
#define gridDim (::pgemu::g_grid_dim)

inline void __syncthreads() { ::pgemu::SyncThreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::pgemu::SyncWarp(mask); }
inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask, int width = 32) {
  return ::pgemu::ShuffleXor(mask, v, lane_mask, width);
}
inline int __shfl_xor_sync(unsigned mask, int v, int lane_mask, int width = 32) {
  return ::pgemu::ShuffleXorInt(mask, v, lane_mask, width);
}

// Device math overloads that CUDA declares in the global namespace.
inline int max(int a, int b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline float max(float a, float b) { return fmaxf(a, b); }
inline float min(float a, float b) { return fminf(a, b); }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __fdividef(float a, float b) { return a / b; }
