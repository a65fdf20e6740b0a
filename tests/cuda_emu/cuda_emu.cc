// CPU emulation of the CUDA runtime and cuBLAS subset that runtime/cuda/ uses
// (docs/CUDA_BACKEND.md, "Checked without a GPU"). Everything runs on the calling thread, at once, in program order,
// so every stream is trivially ordered. What it checks that a plain host port would not:
//  - kernels: the threads of a block are fibers that switch only at __syncthreads() and warp
//    shuffles, so a missing barrier, a shuffle by a partial warp or a barrier reached by only
//    part of the block is a real error (reported as a launch failure naming the kernel);
//  - launch configurations (0 blocks, > 1024 threads, grid limits);
//  - memory calls: every device range a copy, memset or GEMM touches must lie inside one live
//    allocation, copies must go the direction their kind says, frees must name allocations;
//    fresh device memory is filled with 0xff bytes (NaN as f32 and bf16), so a kernel reading
//    memory nobody wrote shows up as NaN.
// It does not model: GPU math-library precision, memory ordering between blocks, performance.
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cublas_v2.h"
#include "cuda_bf16.h"
#include "cuda_runtime.h"
#include "graph_emu.h"

struct PgEmuStream {
  bool live = true;
};
struct PgEmuEvent {
  bool live = true;
};
struct PgEmuPool {
  uint64_t release_threshold = 0;
};
struct PgEmuCublas {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

namespace pgemu {

thread_local const ThreadState* g_thread = nullptr;
thread_local uint3 g_block_idx{0, 0, 0};
thread_local dim3 g_block_dim, g_grid_dim;

namespace {

// ---- errors -------------------------------------------------------------------------------------
thread_local cudaError_t g_last_error = cudaSuccess;
thread_local int g_device = 0;
int g_device_count_override = -1;
int64_t g_launches = 0;

cudaError_t Fail(cudaError_t e, const std::string& why) {
  std::fprintf(stderr, "[cuda-emu] %s: %s\n", cudaGetErrorName(e), why.c_str());
  g_last_error = e;
  return e;
}

// ---- memory registry ---------------------------------------------------------------------------
enum class Space { kDevice, kPinned };
struct Allocation {
  size_t bytes;
  Space space;
};
std::mutex g_mem_mu;
std::map<uintptr_t, Allocation> g_allocs;  // base -> allocation

// The live allocation containing [p, p + bytes), or null.
const Allocation* Find(const void* p, size_t bytes, uintptr_t* base_out = nullptr) {
  std::lock_guard<std::mutex> lock(g_mem_mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return nullptr;
  --it;
  if (a < it->first || a + bytes > it->first + it->second.bytes) return nullptr;
  if (base_out) *base_out = it->first;
  return &it->second;
}

bool IsDevice(const void* p, size_t bytes) {
  const Allocation* a = Find(p, bytes);
  return a && a->space == Space::kDevice;
}

std::string Describe(const void* p, size_t bytes) {
  char buf[160];
  uintptr_t base = 0;
  const Allocation* a = Find(p, 1, &base);
  if (!a) {
    std::snprintf(buf, sizeof buf, "%p (+%zu bytes; not inside any device allocation)", p, bytes);
  } else {
    std::snprintf(buf, sizeof buf, "%p (+%zu bytes; offset %zu of a %zu-byte allocation)", p, bytes,
                  static_cast<size_t>(reinterpret_cast<uintptr_t>(p) - base), a->bytes);
  }
  return buf;
}

cudaError_t Allocate(void** p, size_t bytes, Space space) {
  if (!p) return Fail(cudaErrorInvalidValue, "allocation with a null result pointer");
  void* q = nullptr;
  const size_t padded = (bytes + 255) / 256 * 256 + 256;
  if (posix_memalign(&q, 256, padded) != 0) return Fail(cudaErrorMemoryAllocation, std::to_string(bytes) + " bytes");
  std::memset(q, space == Space::kDevice ? 0xff : 0, padded);  // device: NaN until written
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer a kernel's access past the requested bytes is reported.
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(q) + bytes, padded - bytes);
#endif
  std::lock_guard<std::mutex> lock(g_mem_mu);
  g_allocs[reinterpret_cast<uintptr_t>(q)] = Allocation{bytes, space};
  *p = q;
  return cudaSuccess;
}

cudaError_t Release(void* p, Space space, const char* call) {
  if (!p) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mem_mu);
  auto it = g_allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_allocs.end() || it->second.space != space) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s(%p): not the start of a live allocation of this kind", call, p);
    g_last_error = cudaErrorInvalidValue;
    std::fprintf(stderr, "[cuda-emu] %s\n", buf);
    return cudaErrorInvalidValue;
  }
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(p, (it->second.bytes + 255) / 256 * 256 + 256);
#endif
  g_allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t CheckStream(cudaStream_t s, const char* call) {
  if (s && !s->live) return Fail(cudaErrorInvalidResourceHandle, std::string(call) + " on a destroyed stream");
  return cudaSuccess;
}

// ---- fibers -----------------------------------------------------------------------------------
// A minimal x86-64 context switch (callee-saved registers + stack pointer): ucontext's
// swapcontext makes a signal-mask system call per switch, too slow for a thread per element.
extern "C" void pg_emu_switch(void** save_sp, void* load_sp);
asm(R"(
.text
.globl pg_emu_switch
.type pg_emu_switch,@function
pg_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size pg_emu_switch,.-pg_emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kStackBytes = size_t{512} << 10;
// AddressSanitizer must be told about every switch between the scheduler's stack and a fiber's
// (or it reports false stack errors): start before the switch, finish after it.
void AsanStart(void** fake_save, const void* bottom, size_t size) {
  __sanitizer_start_switch_fiber(fake_save, bottom, size);
}
void AsanFinish(void* fake, const void** bottom_old, size_t* size_old) {
  __sanitizer_finish_switch_fiber(fake, bottom_old, size_old);
}
#else
constexpr size_t kStackBytes = size_t{128} << 10;
void AsanStart(void**, const void*, size_t) {}
void AsanFinish(void*, const void**, size_t*) {}
#endif

enum class State { kRunnable, kBlockBarrier, kWarpBarrier, kDone };

struct Fiber {
  void* sp = nullptr;
  char* stack = nullptr;  // mmap'd, lowest page a guard
  ThreadState ts{};
  State state = State::kDone;
  unsigned shuffle_gen = 0;
  void* asan_fake = nullptr;  // AddressSanitizer's fake stack while switched away
};

struct Scheduler {
  std::vector<Fiber> fibers;
  void* sched_sp = nullptr;
  Fiber* cur = nullptr;
  const std::function<void()>* body = nullptr;
  std::vector<uint32_t> shuffle;  // [warps][2][32]
  void* asan_fake = nullptr;         // the scheduler's, while a fiber runs
  const void* sched_bottom = nullptr;  // the scheduler's stack (AddressSanitizer)
  size_t sched_size = 0;
};
thread_local Scheduler g_sched;

[[noreturn]] void FiberMain() {
  AsanFinish(nullptr, &g_sched.sched_bottom, &g_sched.sched_size);  // arrived from the scheduler
  for (;;) {
    (*g_sched.body)();
    g_sched.cur->state = State::kDone;
    AsanStart(nullptr, g_sched.sched_bottom, g_sched.sched_size);  // leaves for good (re-prepared)
    pg_emu_switch(&g_sched.cur->sp, g_sched.sched_sp);
  }
}

void Prepare(Fiber& f) {
  if (!f.stack) {
    void* mem = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) std::abort();
    mprotect(mem, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_NONE);  // overflow faults
    f.stack = static_cast<char*>(mem);
  }
  uintptr_t top = reinterpret_cast<uintptr_t>(f.stack + kStackBytes) & ~uintptr_t{15};
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;                                       // FiberMain's (unused) return address
  *--sp = reinterpret_cast<void*>(&FiberMain);           // popped by `ret` in pg_emu_switch
  for (int i = 0; i < 6; ++i) *--sp = nullptr;           // rbp rbx r12-r15
  f.sp = sp;
}

// Back to the scheduler with the current fiber in `state`.
void Block(State state) {
  Fiber* f = g_sched.cur;
  f->state = state;
  AsanStart(&f->asan_fake, g_sched.sched_bottom, g_sched.sched_size);
  pg_emu_switch(&f->sp, g_sched.sched_sp);
  AsanFinish(f->asan_fake, &g_sched.sched_bottom, &g_sched.sched_size);
}

const char* StateName(State s) {
  switch (s) {
    case State::kRunnable: return "runnable";
    case State::kBlockBarrier: return "__syncthreads";
    case State::kWarpBarrier: return "warp shuffle/__syncwarp";
    case State::kDone: return "exited";
  }
  return "?";
}

// Runs one block to completion; returns "" or what went wrong.
std::string RunBlock(unsigned n) {
  Scheduler& S = g_sched;
  const unsigned warps = (n + 31) / 32;
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = S.fibers[i];
    Prepare(f);
    f.state = State::kRunnable;
    f.shuffle_gen = 0;
  }
  for (;;) {
    for (unsigned i = 0; i < n; ++i) {
      Fiber& f = S.fibers[i];
      if (f.state != State::kRunnable) continue;
      S.cur = &f;
      g_thread = &f.ts;
      AsanStart(&S.asan_fake, f.stack, kStackBytes);
      pg_emu_switch(&S.sched_sp, f.sp);
      AsanFinish(S.asan_fake, nullptr, nullptr);
    }
    g_thread = nullptr;
    unsigned done = 0, at_block = 0;
    bool released = false;
    for (unsigned i = 0; i < n; ++i) {
      done += S.fibers[i].state == State::kDone;
      at_block += S.fibers[i].state == State::kBlockBarrier;
    }
    if (done == n) return "";
    for (unsigned w = 0; w < warps; ++w) {
      const unsigned first = w * 32, last = std::min(n, first + 32);
      unsigned waiting = 0;
      for (unsigned i = first; i < last; ++i) waiting += S.fibers[i].state == State::kWarpBarrier;
      if (waiting == 0) continue;
      if (last - first != 32) return "warp " + std::to_string(w) + " has " + std::to_string(last - first) +
                                     " lanes (blockDim not a multiple of 32) but used a full-warp shuffle";
      if (waiting == 32) {
        for (unsigned i = first; i < last; ++i) S.fibers[i].state = State::kRunnable;
        released = true;
      }
    }
    if (released) continue;
    if (at_block > 0 && at_block + done == n) {
      if (done > 0)
        return "__syncthreads reached by " + std::to_string(at_block) + " of " + std::to_string(n) +
               " threads; the others had exited (a barrier in divergent code)";
      for (unsigned i = 0; i < n; ++i) S.fibers[i].state = State::kRunnable;
      continue;
    }
    std::string why = "deadlock: no thread can proceed;";
    for (unsigned i = 0; i < n && i < 64; i += 1) {
      if (i % 32 == 0 || S.fibers[i].state != S.fibers[i - 1].state)
        why += " thread " + std::to_string(i) + ": " + StateName(S.fibers[i].state) + ";";
    }
    return why;
  }
}

}  // namespace

void SyncThreads() { Block(State::kBlockBarrier); }

void SyncWarp(unsigned mask) {
  if (mask != 0xffffffffu) std::fprintf(stderr, "[cuda-emu] __syncwarp with a partial mask is not emulated\n");
  Block(State::kWarpBarrier);
}

static uint32_t ShuffleBits(unsigned mask, uint32_t bits, int lane_mask, int width) {
  if (mask != 0xffffffffu || width != 32) {
    std::fprintf(stderr, "[cuda-emu] shuffle with mask %#x width %d is not emulated (full warps only)\n", mask, width);
    std::abort();
  }
  Fiber* f = g_sched.cur;
  const unsigned gen = f->shuffle_gen++ & 1u;
  uint32_t* buf = &g_sched.shuffle[(f->ts.warp * 2 + gen) * 32];
  buf[f->ts.lane] = bits;
  Block(State::kWarpBarrier);  // every lane has written its value
  // A lane rewrites this half only two shuffles later, after the next barrier, which needs
  // this lane to have read it first.
  return buf[f->ts.lane ^ (static_cast<unsigned>(lane_mask) & 31u)];
}

float ShuffleXor(unsigned mask, float v, int lane_mask, int width) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  b = ShuffleBits(mask, b, lane_mask, width);
  std::memcpy(&v, &b, 4);
  return v;
}

int ShuffleXorInt(unsigned mask, int v, int lane_mask, int width) {
  return static_cast<int>(ShuffleBits(mask, static_cast<uint32_t>(v), lane_mask, width));
}

void Launch(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, const char* kernel,
            const std::function<void()>& body) {
  if (IsCapturing(stream)) {  // a kernel node: the arguments by value, run by cudaGraphLaunch
    std::function<void()> copy = body;
    CaptureNode(stream, [=]() { Launch(grid, block, smem, stream, kernel, copy); });
    return;
  }
  if (!InGraphLaunch()) ++g_launches;
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (CheckStream(stream, kernel) != cudaSuccess) return;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535 || smem > 48 * 1024) {
    Fail(cudaErrorInvalidConfiguration,
         std::string(kernel) + " launched with grid (" + std::to_string(grid.x) + "," + std::to_string(grid.y) +
             "," + std::to_string(grid.z) + ") block (" + std::to_string(block.x) + "," + std::to_string(block.y) +
             "," + std::to_string(block.z) + ") smem " + std::to_string(smem));
    return;
  }
  Scheduler& S = g_sched;
  if (S.body) {
    Fail(cudaErrorLaunchFailure, std::string(kernel) + " launched from inside a kernel");
    return;
  }
  if (S.fibers.size() < threads) S.fibers.resize(threads);
  S.shuffle.assign((threads + 31) / 32 * 64, 0);
  for (unsigned i = 0; i < threads; ++i) {
    const unsigned x = i % block.x, y = (i / block.x) % block.y, z = i / (block.x * block.y);
    S.fibers[i].ts = ThreadState{uint3{x, y, z}, i % 32, i / 32};
  }
  S.body = &body;
  g_block_dim = block;
  g_grid_dim = grid;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        g_block_idx = uint3{x, y, z};
        const std::string err = RunBlock(static_cast<unsigned>(threads));
        if (!err.empty()) {
          S.body = nullptr;
          Fail(cudaErrorLaunchFailure, std::string(kernel) + " block (" + std::to_string(x) + "," +
                                           std::to_string(y) + "," + std::to_string(z) + "): " + err);
          // The abandoned fibers are re-prepared by the next launch.
          return;
        }
      }
  S.body = nullptr;
}

void SetDeviceCount(int n) { g_device_count_override = n; }
bool DeviceRange(const void* p, size_t bytes, std::string* why) {
  if (IsDevice(p, bytes)) return true;
  if (why) *why = Describe(p, bytes);
  return false;
}
int64_t LaunchCount() { return g_launches; }
cudaError_t SetLastError(cudaError_t e, const std::string& why) { return Fail(e, why); }

// For the other emulation files (tests/cuda_emu/emu_internal.h).
cudaError_t RecordError(cudaError_t e, const std::string& why) { return Fail(e, why); }
bool IsDeviceRange(const void* p, size_t bytes) { return IsDevice(p, bytes); }
std::string DescribeRange(const void* p, size_t bytes) { return Describe(p, bytes); }
cudaError_t CheckLiveStream(cudaStream_t s, const char* call) { return CheckStream(s, call); }

}  // namespace pgemu

using pgemu::Fail;

// ---- runtime API -------------------------------------------------------------------------------
const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNoKernelImageForDevice: return "cudaErrorNoKernelImageForDevice";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorCapturedEvent: return "cudaErrorCapturedEvent";
    case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure (emulator: see the [cuda-emu] line on stderr)";
    default: return "see the [cuda-emu] line on stderr";
  }
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = pgemu::g_last_error;
  pgemu::g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return pgemu::g_last_error; }

cudaError_t cudaGetDeviceCount(int* count) {
  int n = 1;
  if (pgemu::g_device_count_override >= 0) {
    n = pgemu::g_device_count_override;
  } else if (const char* env = std::getenv("PG_CUDA_EMU_DEVICES")) {
    n = std::atoi(env);
  }
  if (const char* vis = std::getenv("CUDA_VISIBLE_DEVICES")) {  // as the driver: a list of ordinals
    int listed = 0;
    for (const char* c = vis; *c;) {
      char* end = nullptr;
      const long v = std::strtol(c, &end, 10);
      if (end == c || v < 0 || v >= n) break;  // the driver stops at the first invalid entry
      ++listed;
      c = *end == ',' ? end + 1 : end;
      if (*end != ',' && *end != '\0') break;
    }
    n = listed;
  }
  *count = n;
  return n == 0 ? cudaErrorNoDevice : cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  int n = 0;
  cudaGetDeviceCount(&n);
  if (device < 0 || device >= n)
    return Fail(cudaErrorInvalidDevice, "cudaSetDevice(" + std::to_string(device) + ") with " +
                                            std::to_string(n) + " device(s)");
  pgemu::g_device = device;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  *device = pgemu::g_device;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "pg CUDA emulation %d", device);
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  prop->totalGlobalMem = size_t{1} << 34;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
  *value = attr == cudaDevAttrMemoryPoolsSupported ? 1 : 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int) {
  static PgEmuPool the_pool;
  *pool = &the_pool;
  return cudaSuccess;
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  if (!pool || attr != cudaMemPoolAttrReleaseThreshold) return Fail(cudaErrorInvalidValue, "cudaMemPoolSetAttribute");
  pool->release_threshold = *static_cast<uint64_t*>(value);
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return pgemu::CheckNoUnsafeCall("cudaDeviceSynchronize"); }

// Total: PG_CUDA_EMU_MEMORY_BYTES (default 16 GiB); free: total minus the live device allocations,
// so a caller sizing a batch from free memory sees what its backend has already allocated.
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  const char* env = std::getenv("PG_CUDA_EMU_MEMORY_BYTES");
  const size_t total = env ? std::strtoull(env, nullptr, 10) : size_t{1} << 34;
  size_t used = 0;
  {
    std::lock_guard<std::mutex> lock(pgemu::g_mem_mu);
    for (const auto& [base, a] : pgemu::g_allocs)
      if (a.space == pgemu::Space::kDevice) used += a.bytes;
  }
  *free_bytes = used < total ? total - used : 0;
  *total_bytes = total;
  return cudaSuccess;
}

// Allocations while this thread captures a stream (thread-local / global mode) are errors; graph
// memory nodes (cudaMallocAsync / cudaFreeAsync on a capturing stream) are not emulated.
cudaError_t cudaMalloc(void** p, size_t bytes) {
  if (cudaError_t e = pgemu::CheckNoUnsafeCall("cudaMalloc")) return e;
  return pgemu::Allocate(p, bytes, pgemu::Space::kDevice);
}
cudaError_t cudaFree(void* p) {
  if (cudaError_t e = pgemu::CheckNoUnsafeCall("cudaFree")) return e;
  return pgemu::Release(p, pgemu::Space::kDevice, "cudaFree");
}
cudaError_t cudaMallocAsync(void** p, size_t bytes, cudaStream_t s) {
  if (pgemu::CheckStream(s, "cudaMallocAsync") != cudaSuccess) return cudaErrorInvalidResourceHandle;
  if (cudaError_t e = pgemu::CheckNotCapturing(s, "cudaMallocAsync")) return e;
  return pgemu::Allocate(p, bytes, pgemu::Space::kDevice);
}
cudaError_t cudaFreeAsync(void* p, cudaStream_t s) {
  if (pgemu::CheckStream(s, "cudaFreeAsync") != cudaSuccess) return cudaErrorInvalidResourceHandle;
  if (cudaError_t e = pgemu::CheckNotCapturing(s, "cudaFreeAsync")) return e;
  return pgemu::Release(p, pgemu::Space::kDevice, "cudaFreeAsync");
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
  if (cudaError_t e = pgemu::CheckNoUnsafeCall("cudaMallocHost")) return e;
  return pgemu::Allocate(p, bytes, pgemu::Space::kPinned);
}
cudaError_t cudaFreeHost(void* p) {
  if (cudaError_t e = pgemu::CheckNoUnsafeCall("cudaFreeHost")) return e;
  return pgemu::Release(p, pgemu::Space::kPinned, "cudaFreeHost");
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t e = pgemu::CheckNoUnsafeCall("cudaMemcpy")) return e;
  if (bytes == 0) return cudaSuccess;
  const bool dst_dev = pgemu::IsDevice(dst, bytes), src_dev = pgemu::IsDevice(src, bytes);
  const bool want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (kind != cudaMemcpyDefault && (dst_dev != want_dst || src_dev != want_src))
    return Fail(cudaErrorInvalidValue, "cudaMemcpy kind " + std::to_string(kind) + ": dst " +
                                           pgemu::Describe(dst, bytes) + ", src " + pgemu::Describe(src, bytes));
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s) {
  if (pgemu::CheckStream(s, "cudaMemcpyAsync") != cudaSuccess) return cudaErrorInvalidResourceHandle;
  if (pgemu::IsCapturing(s)) {  // a copy node: reads src when the graph runs
    pgemu::CaptureNode(s, [=]() { cudaMemcpy(dst, src, bytes, kind); });
    return cudaSuccess;
  }
  return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (cudaError_t e = pgemu::CheckNoUnsafeCall("cudaMemset")) return e;
  if (bytes == 0) return cudaSuccess;
  if (!pgemu::IsDevice(p, bytes)) return Fail(cudaErrorInvalidValue, "cudaMemset " + pgemu::Describe(p, bytes));
  std::memset(p, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s) {
  if (pgemu::CheckStream(s, "cudaMemsetAsync") != cudaSuccess) return cudaErrorInvalidResourceHandle;
  if (pgemu::IsCapturing(s)) {
    pgemu::CaptureNode(s, [=]() { cudaMemset(p, value, bytes); });
    return cudaSuccess;
  }
  return cudaMemset(p, value, bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = new PgEmuStream;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s || !s->live) return Fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy of a destroyed stream");
  s->live = false;  // kept, so later use is detected
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (cudaError_t e = pgemu::CheckNotCapturing(s, "cudaStreamSynchronize")) return e;
  return pgemu::CheckStream(s, "cudaStreamSynchronize");
}

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new PgEmuEvent;
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e || !e->live) return Fail(cudaErrorInvalidResourceHandle, "cudaEventRecord of a destroyed event");
  pgemu::NoteEventRecord(e, s);
  return pgemu::CheckStream(s, "cudaEventRecord");
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!e || !e->live) return Fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize of a destroyed event");
  return pgemu::CheckEventWait(e, "cudaEventSynchronize");
}
// Streams execute at the call, so recorded work is always complete.
cudaError_t cudaEventQuery(cudaEvent_t e) {
  if (!e || !e->live) return Fail(cudaErrorInvalidResourceHandle, "cudaEventQuery of a destroyed event");
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (!e || !e->live) return Fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy of a destroyed event");
  e->live = false;
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) {
  *ms = 0.f;
  return cudaSuccess;
}

// ---- cuBLAS -------------------------------------------------------------------------------------
namespace {

size_t TypeBytes(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }

float LoadElem(const void* p, cudaDataType_t t, size_t i) {
  if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
  return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}

// A column-major matrix of `rows` x `cols` with leading dimension ld: valid ld, inside one
// device allocation.
bool CheckOperand(const char* name, const void* p, cudaDataType_t t, int rows, int cols, int ld) {
  if (ld < std::max(1, rows)) {
    Fail(cudaErrorInvalidValue, std::string("cublas GEMM: ld") + name + " = " + std::to_string(ld) + " < " +
                                    std::to_string(rows) + " rows");
    return false;
  }
  const size_t bytes = (static_cast<size_t>(cols - 1) * ld + rows) * TypeBytes(t);
  if (!pgemu::IsDevice(p, bytes)) {
    Fail(cudaErrorIllegalAddress, std::string("cublas GEMM: operand ") + name + " " + std::to_string(rows) + " x " +
                                      std::to_string(cols) + " (ld " + std::to_string(ld) + ") at " +
                                      pgemu::Describe(p, bytes));
    return false;
  }
  return true;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = new PgEmuCublas;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = s;
  h->workspace = nullptr;  // as cuBLAS: setting the stream resets a user workspace to the default
  h->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetStream(cublasHandle_t h, cudaStream_t* s) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  *s = h->stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void* ws, size_t bytes) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (bytes > 0 && !pgemu::IsDevice(ws, bytes)) return CUBLAS_STATUS_INVALID_VALUE;
  h->workspace = ws;
  h->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}
const char* cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}
const char* cublasGetStatusString(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "success" : "see the [cuda-emu] line on stderr";
}

namespace {

// One column-major GEMM of a (strided) batch, after the operand checks. C = alpha op(A) op(B) + beta C.
cublasStatus_t ReferenceGemm(cublasHandle_t h, const char* fn, cublasOperation_t ta, cublasOperation_t tb, int m,
                             int n, int k, const void* alpha, const void* A, cudaDataType_t at, int lda,
                             long long sa, const void* B, cudaDataType_t bt, int ldb, long long sb, const void* beta,
                             void* C, cudaDataType_t ct, int ldc, long long sc, int batch,
                             cublasComputeType_t compute) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (pgemu::CheckStream(h->stream, fn) != cudaSuccess) return CUBLAS_STATUS_EXECUTION_FAILED;
  if (pgemu::IsCapturing(h->stream)) {  // a node of the graph; alpha and beta read now (host pointers)
    if (!h->workspace) {  // cuBLAS would allocate its workspace inside the capture
      Fail(cudaErrorStreamCaptureUnsupported, std::string(fn) + " captured without cublasSetWorkspace");
      return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
    pgemu::CaptureNode(h->stream, [=]() {
      ReferenceGemm(h, fn, ta, tb, m, n, k, &al, A, at, lda, sa, B, bt, ldb, sb, &be, C, ct, ldc, sc, batch, compute);
    });
    return CUBLAS_STATUS_SUCCESS;
  }
  if (compute != CUBLAS_COMPUTE_32F || (ct != CUDA_R_32F && ct != CUDA_R_16BF) || (at != CUDA_R_16BF && at != CUDA_R_32F) ||
      (bt != CUDA_R_16BF && bt != CUDA_R_32F) || ta == CUBLAS_OP_C || tb == CUBLAS_OP_C) {
    Fail(cudaErrorInvalidValue, std::string(fn) + ": type/op combination not emulated");
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
  const bool a_t = ta == CUBLAS_OP_T, b_t = tb == CUBLAS_OP_T;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (int i = 0; i < batch; ++i) {
    const void* Ai = static_cast<const char*>(A) + i * sa * static_cast<long long>(TypeBytes(at));
    const void* Bi = static_cast<const char*>(B) + i * sb * static_cast<long long>(TypeBytes(bt));
    void* c = static_cast<char*>(C) + i * sc * static_cast<long long>(TypeBytes(ct));
    if (k > 0 && (!CheckOperand("a", Ai, at, a_t ? k : m, a_t ? m : k, lda) ||
                  !CheckOperand("b", Bi, bt, b_t ? n : k, b_t ? k : n, ldb)))
      return CUBLAS_STATUS_INVALID_VALUE;
    if (!CheckOperand("c", c, ct, m, n, ldc)) return CUBLAS_STATUS_INVALID_VALUE;
    for (int j = 0; j < n; ++j)
      for (int r = 0; r < m; ++r) {
        float acc = 0.f;  // fp32 accumulation, as CUBLAS_COMPUTE_32F
        for (int l = 0; l < k; ++l) {
          const float a = LoadElem(Ai, at, a_t ? l + static_cast<size_t>(r) * lda : r + static_cast<size_t>(l) * lda);
          const float b = LoadElem(Bi, bt, b_t ? j + static_cast<size_t>(l) * ldb : l + static_cast<size_t>(j) * ldb);
          acc += a * b;
        }
        const size_t at_c = r + static_cast<size_t>(j) * ldc;
        // beta = 0: C is not read (may be NaN); a bf16 C is rounded to nearest even once.
        const float v = be == 0.f ? al * acc : al * acc + be * LoadElem(c, ct, at_c);
        if (ct == CUDA_R_32F)
          static_cast<float*>(c)[at_c] = v;
        else
          static_cast<__nv_bfloat16*>(c)[at_c] = __float2bfloat16_rn(v);
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType_t at, int lda, const void* B,
                            cudaDataType_t bt, int ldb, const void* beta, void* C, cudaDataType_t ct, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  return ReferenceGemm(h, "cublasGemmEx", ta, tb, m, n, k, alpha, A, at, lda, 0, B, bt, ldb, 0, beta, C, ct, ldc, 0,
                       1, compute);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                          int k, const void* alpha, const void* A, cudaDataType_t at, int lda,
                                          long long sa, const void* B, cudaDataType_t bt, int ldb, long long sb,
                                          const void* beta, void* C, cudaDataType_t ct, int ldc, long long sc,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t) {
  return ReferenceGemm(h, "cublasGemmStridedBatchedEx", ta, tb, m, n, k, alpha, A, at, lda, sa, B, bt, ldb, sb, beta,
                       C, ct, ldc, sc, batch, compute);
}
