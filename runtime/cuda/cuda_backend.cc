// CudaBackend: construction, the factory, device discovery, and the memory ops
// (Alloc / Upload / Download / Zero / CopyRows). The compute ops are in cuda_backend_ops.cc.
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/cuda_backend.h"

namespace pg {
namespace cuda {
namespace {


// "device 0 (NVIDIA H100 80GB HBM3, sm_90)" for messages.
std::string DeviceLabel(int device) {
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();
    return "device " + std::to_string(device);
  }
  return "device " + std::to_string(device) + " (" + prop.name + ", sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ")";
}

// Empty when `device` can run this build; otherwise why not.
std::string DeviceProblem(int device) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
           "); no usable NVIDIA driver or GPU on this machine";
  }
  if (count == 0) return "no CUDA device is visible (cudaGetDeviceCount = 0; check CUDA_VISIBLE_DEVICES)";
  if (device < 0 || device >= count)
    return "CUDA device " + std::to_string(device) + " requested but " + std::to_string(count) +
           " device(s) are visible";
  e = cudaSetDevice(device);
  if (e == cudaSuccess) e = ProbeKernelImage();
  if (e != cudaSuccess) {
    cudaGetLastError();
    return DeviceLabel(device) + " cannot run this build's kernels (built for sm_90): " + cudaGetErrorName(e) +
           " (" + cudaGetErrorString(e) + ")";
  }
  return "";
}

}  // namespace

// ---- checks ---------------------------------------------------------------------------------
int64_t Rows(const Tensor& t) {
  const int64_t cols = t.dim(-1);
  return cols == 0 ? 0 : t.numel() / cols;
}

void CheckOnDevice(const Tensor& t, const char* op) {
  PG_CHECK(t.device == Device::kCuda, "CudaBackend::" << op << ": tensor '" << t.name
                                                      << "' is not a CUDA tensor (it was made by another backend)");
  PG_CHECK(t.data != nullptr || t.numel() == 0, "CudaBackend::" << op << ": tensor '" << t.name << "' has no data");
}

ConstView In(const Tensor& t, const char* op) {
  CheckOnDevice(t, op);
  return ConstView{t.data, t.dtype == DType::kBF16};
}

MutView Out(Tensor& t, const char* op) {
  CheckOnDevice(t, op);
  PG_CHECK(!IsWeight(t), "CudaBackend::" << op << ": tensor '" << t.name << "' " << ShapeStr(t.shape)
                                         << " is a weight (UploadWeight): read-only; outputs are tensors from "
                                            "Alloc, AllocActivation or Upload");
  PG_CHECK(t.dtype == DType::kF32 || t.dtype == DType::kBF16,
           "CudaBackend::" << op << ": tensor '" << t.name << "' is " << DTypeName(t.dtype) << "; outputs are f32 or bf16");
  return MutView{t.data, t.dtype == DType::kBF16};
}

bool IsWeight(const Tensor& t) { return std::get_deleter<WeightFree>(t.storage) != nullptr; }

const float* InF32(const Tensor& t, const char* op) {
  CheckOnDevice(t, op);
  PG_CHECK(t.dtype == DType::kF32, "CudaBackend::" << op << ": tensor '" << t.name << "' " << ShapeStr(t.shape)
                                                   << " is " << DTypeName(t.dtype) << "; this op reads f32 only");
  return static_cast<const float*>(t.data);
}

// ---- lifetime -------------------------------------------------------------------------------
CudaBackend::CudaBackend(const BackendOptions& options) {
  const int device = ResolveCudaDevice(options.device);  // local rank -> local rank % devices
  const std::string problem = DeviceProblem(device);
  PG_CHECK(problem.empty(), "backend 'cuda' (device " << options.device << " requested): " << problem);
  ctx_ = std::make_shared<CudaContext>(device);
  try {
    CUBLAS_CHECK(cublasCreate(&cublas_), "MakeCudaBackend");
    CUBLAS_CHECK(cublasSetStream(cublas_, ctx_->stream()), "MakeCudaBackend");
    workspace_ = cublas_workspace_.Reserve(*ctx_, kCublasWorkspaceBytes, "MakeCudaBackend");
    CUBLAS_CHECK(cublasSetWorkspace(cublas_, workspace_, kCublasWorkspaceBytes), "MakeCudaBackend");
    // cuBLASLt (MatMul's epilogues) shares the workspace: both run in order on the one stream.
    CUBLAS_CHECK(cublasLtCreate(&cublas_lt_), "MakeCudaBackend");
  } catch (...) {
    Release();
    throw;
  }
  const char* sync = std::getenv("PG_CUDA_SYNC");
#ifdef NDEBUG
  sync_each_op_ = sync && std::strcmp(sync, "0") != 0;
#else
  sync_each_op_ = !(sync && std::strcmp(sync, "0") == 0);
#endif
  // CUDA graphs for the decode step (step_graph.h): on unless PG_CUDA_GRAPHS=0.
  const char* graphs = std::getenv("PG_CUDA_GRAPHS");
  graphs_ = std::make_unique<StepGraphs>(ctx_->stream(), !(graphs && std::strcmp(graphs, "0") == 0), sync_each_op_);
}

CudaBackend::~CudaBackend() { Release(); }

void CudaBackend::Release() noexcept {
  cudaStreamSynchronize(ctx_->stream());
  graphs_.reset();
  if (cublas_) cublasDestroy(cublas_);
  cublas_ = nullptr;
  if (cublas_lt_) cublasLtDestroy(cublas_lt_);
  cublas_lt_ = nullptr;
  for (DeviceMirror* m : {&positions_, &inv_freq_, &ids_, &cache_meta_, &mask_meta_}) m->Release(*ctx_);
  for (DeviceScratch* s : {&cublas_workspace_, &gemm_x_, &gemm_w_, &gemm_bias_, &top_k_, &attn_scratch_}) s->Release(*ctx_);
  // ctx_ (the stream) lives on while tensors from this backend do.
}

void CudaBackend::Launched(const char* op) {
  CUDA_CHECK(cudaGetLastError(), op << " (kernel launch)");
  if (sync_each_op_ && MayWaitOnHost(ctx_->stream()))  // not while a CUDA graph is captured
    CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), op << " (PG_CUDA_SYNC)");
}

// ---- memory ---------------------------------------------------------------------------------
Tensor CudaBackend::NewTensor(const std::string& name, std::vector<int64_t> shape, DType dtype, const char* op,
                              bool weight) {
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = dtype;
  t.device = Device::kCuda;
  for (int64_t d : t.shape) PG_CHECK(d >= 0, "tensor '" << name << "': negative dim in " << ShapeStr(t.shape));
  void* p = ctx_->Malloc(t.bytes() > 0 ? t.bytes() : 16, op);
  ++stats_.allocations;
  std::shared_ptr<CudaContext> ctx = ctx_;
  if (weight)  // the deleter's type marks the tensor read-only (IsWeight)
    t.storage = std::shared_ptr<void>(p, WeightFree{ctx});
  else
    t.storage = std::shared_ptr<void>(p, [ctx](void* q) { ctx->Free(q); });
  t.data = p;
  return t;
}

Tensor CudaBackend::Alloc(const std::string& name, std::vector<int64_t> shape) {
  Tensor t = NewTensor(name, std::move(shape), DType::kF32, "Alloc");
  CUDA_CHECK(cudaMemsetAsync(t.data, 0, t.bytes(), ctx_->stream()), "Alloc '" << name << "'");
  return t;
}

// An activation: bf16 (docs/CUDA_BACKEND.md, "Precision"), zero-filled.
Tensor CudaBackend::AllocActivation(const std::string& name, std::vector<int64_t> shape) {
  Tensor t = NewTensor(name, std::move(shape), DType::kBF16, "AllocActivation");
  CUDA_CHECK(cudaMemsetAsync(t.data, 0, t.bytes(), ctx_->stream()), "AllocActivation '" << name << "'");
  return t;
}

Tensor CudaBackend::Upload(const std::string& name, std::vector<int64_t> shape, const float* host) {
  return UploadAs(name, std::move(shape), host, DType::kF32);
}

Tensor CudaBackend::UploadWeight(const std::string& name, std::vector<int64_t> shape, const float* host) {
  const DType dtype = shape.size() == 2 ? DType::kBF16 : DType::kF32;  // 2-D: a weight matrix
  return UploadAs(name, std::move(shape), host, dtype, /*weight=*/true);
}

Tensor CudaBackend::UploadAs(const std::string& name, std::vector<int64_t> shape, const float* host, DType dtype,
                             bool weight) {
  Tensor t = NewTensor(name, std::move(shape), dtype, "Upload", weight);
  const int64_t n = t.numel();
  stats_.bytes_from_host += static_cast<int64_t>(n * sizeof(float));
  if (dtype == DType::kBF16) {
    std::vector<uint16_t> words(n);
    for (int64_t i = 0; i < n; ++i) words[i] = F32ToBf16(host[i]);
    CUDA_CHECK(cudaMemcpyAsync(t.data, words.data(), t.bytes(), cudaMemcpyHostToDevice, ctx_->stream()),
               "Upload '" << name << "'");
    CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "Upload '" << name << "'");  // before `words` goes
  } else {
    CUDA_CHECK(cudaMemcpyAsync(t.data, host, t.bytes(), cudaMemcpyHostToDevice, ctx_->stream()),
               "Upload '" << name << "'");
    CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "Upload '" << name << "'");  // the caller may free `host`
  }
  return t;
}

void CudaBackend::CopyFromHost(const float* host, Tensor& dst) {
  RequireEager(ctx_->stream(), "CopyFromHost");  // reads pageable host memory, then waits
  const MutView d = Out(dst, "CopyFromHost");
  std::vector<uint16_t> words;  // a bf16 destination: rounded on the host (half the bytes to copy)
  const void* src = host;
  if (d.bf16) {
    words.resize(dst.numel());
    for (int64_t i = 0; i < dst.numel(); ++i) words[i] = F32ToBf16(host[i]);
    src = words.data();
  }
  CUDA_CHECK(cudaMemcpyAsync(d.data, src, dst.bytes(), cudaMemcpyHostToDevice, ctx_->stream()),
             "CopyFromHost '" << dst.name << "'");
  // The caller may free `host` (and `words` goes).
  CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "CopyFromHost '" << dst.name << "'");
  stats_.bytes_from_host += static_cast<int64_t>(dst.bytes());
}

void CudaBackend::Download(const Tensor& t, float* host) {
  CheckOnDevice(t, "Download");
  RequireEager(ctx_->stream(), "Download");
  const int64_t n = t.numel();
  stats_.bytes_to_host += static_cast<int64_t>(t.bytes());
  if (t.dtype == DType::kF32) {
    CUDA_CHECK(cudaMemcpyAsync(host, t.data, t.bytes(), cudaMemcpyDeviceToHost, ctx_->stream()),
               "Download '" << t.name << "'");
    CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "Download '" << t.name << "'");
    return;
  }
  std::vector<uint16_t> words(n);
  CUDA_CHECK(cudaMemcpyAsync(words.data(), t.data, t.bytes(), cudaMemcpyDeviceToHost, ctx_->stream()),
             "Download '" << t.name << "'");
  CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()), "Download '" << t.name << "'");
  for (int64_t i = 0; i < n; ++i) host[i] = Bf16ToF32(words[i]);
}

void CudaBackend::Zero(Tensor& t) {
  CheckOnDevice(t, "Zero");
  CUDA_CHECK(GatedMemsetAsync(t.data, 0, t.bytes(), ctx_->stream()), "Zero '" << t.name << "'");
  Launched("Zero");
}

void CudaBackend::CopyRows(const Tensor& src, int64_t src_row, Tensor& dst, int64_t dst_row, int64_t rows) {
  CheckOnDevice(src, "CopyRows");
  CheckOnDevice(dst, "CopyRows");
  const int64_t cols = src.dim(-1);
  PG_CHECK(dst.dim(-1) == cols, "CopyRows: '" << src.name << "' has " << cols << " columns, '" << dst.name
                                              << "' has " << dst.dim(-1));
  PG_CHECK(rows >= 0 && src_row >= 0 && src_row + rows <= Rows(src) && dst_row >= 0 && dst_row + rows <= Rows(dst),
           "CopyRows: rows out of range for '" << src.name << "' -> '" << dst.name << "'");
  const size_t src_size = DTypeSize(src.dtype), dst_size = DTypeSize(dst.dtype);
  const char* from = static_cast<const char*>(src.data) + src_row * cols * src_size;
  char* to = static_cast<char*>(dst.data) + dst_row * cols * dst_size;
  if (src.dtype == dst.dtype) {
    CUDA_CHECK(GatedMemcpyAsync(to, from, rows * cols * src_size, cudaMemcpyDeviceToDevice, ctx_->stream()),
               "CopyRows '" << src.name << "' -> '" << dst.name << "'");
  } else {  // bf16 <-> f32 (an uploaded 2-D input copied into an f32 activation)
    LaunchConvert({ConstView{from, src.dtype == DType::kBF16}, to, dst.dtype == DType::kBF16, rows * cols},
                  ctx_->stream());
  }
  Launched("CopyRows");
}

// ---- helpers for the compute ops ------------------------------------------------------------
const void* CudaBackend::AsBf16(const Tensor& t, DeviceScratch& scratch, const char* op) {
  CheckOnDevice(t, op);
  if (t.dtype == DType::kBF16) return t.data;
  void* dst = scratch.Reserve(*ctx_, t.numel() * sizeof(uint16_t), op);
  LaunchConvert({ConstView{t.data, false}, dst, true, t.numel()}, ctx_->stream());
  Launched(op);
  return dst;
}

const int* CudaBackend::Ints(DeviceMirror& mirror, const std::vector<int>& host, const char* op) {
  return static_cast<const int*>(mirror.Get(*ctx_, host.data(), host.size() * sizeof(int), op));
}

}  // namespace cuda

// ---- runtime/cuda_backend.h -----------------------------------------------------------------
std::unique_ptr<Backend> MakeCudaBackend(const BackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}

bool CudaDeviceAvailable(std::string* why) {
  const std::string problem = cuda::DeviceProblem(0);
  if (why) *why = problem;
  return problem.empty();
}

int ResolveCudaDevice(int requested) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count <= 0) {
    cudaGetLastError();
    return requested;  // DeviceProblem says why no device is usable
  }
  return requested >= 0 ? requested % count : requested;
}

int CudaBackendDevice(Backend& backend) {
  auto* cuda_backend = dynamic_cast<cuda::CudaBackend*>(&backend);
  PG_CHECK(cuda_backend, "backend '" << backend.name() << "' has no CUDA device (only --backend cuda does)");
  return cuda_backend->device();
}

void* CudaBackendStream(Backend& backend) {
  auto* cuda_backend = dynamic_cast<cuda::CudaBackend*>(&backend);
  PG_CHECK(cuda_backend, "backend '" << backend.name() << "' has no CUDA stream (only --backend cuda does)");
  return cuda_backend->stream();
}

DeviceMemoryInfo CudaBackendMemory(Backend& backend) {
  auto* cuda_backend = dynamic_cast<cuda::CudaBackend*>(&backend);
  PG_CHECK(cuda_backend, "backend '" << backend.name() << "' has no CUDA device memory (only --backend cuda does)");
  CUDA_CHECK(cudaSetDevice(cuda_backend->device()), "CudaBackendMemory");
  // Allocations still queued on the stream count as used.
  CUDA_CHECK(cudaStreamSynchronize(cuda_backend->stream()), "CudaBackendMemory");
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes), "CudaBackendMemory");
  return {static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

}  // namespace pg
