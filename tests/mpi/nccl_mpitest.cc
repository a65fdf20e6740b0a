// NCCL communicator vs the expected integer-valued results and vs MpiCommunicator, bit for bit
// (nccl-tests "verifiable"). Built with CUDA (one GPU per rank, local rank = device; exits 77,
// ctest SKIP_RETURN_CODE, on every rank when there are fewer GPUs than ranks) and under the CUDA
// + NCCL emulation (tests/cuda_emu/tests.cmake: PG_CUDA_EMU_DEVICES gives every rank a device).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dist/mpi_communicator.h"
#include "dist/nccl_communicator.h"
#include "dist/run_main.h"
#include "runtime/check.h"
#include "tests/mpi/mpitest_util.h"

namespace {

#define CUDA_OK(call)                                                                   \
  do {                                                                                  \
    const cudaError_t e_ = (call);                                                      \
    PG_CHECK(e_ == cudaSuccess, #call << " failed: " << cudaGetErrorString(e_));        \
  } while (0)

// Copies host -> device, runs `op` on the device copy, copies back.
template <class T, class Op>
std::vector<T> OnDevice(const std::vector<T>& host, size_t out_elems, Op op) {
  T* d = nullptr;
  const size_t bytes = std::max(host.size(), out_elems) * sizeof(T);
  CUDA_OK(cudaMalloc(&d, bytes == 0 ? 1 : bytes));
  if (!host.empty()) CUDA_OK(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  op(d);
  std::vector<T> out(out_elems);
  if (out_elems) CUDA_OK(cudaMemcpy(out.data(), d, out_elems * sizeof(T), cudaMemcpyDeviceToHost));
  CUDA_OK(cudaFree(d));
  return out;
}

// A host buffer handed to the NCCL data plane: the job must abort naming the collective (the
// emulation's buffer check; on a GPU NCCL's own). Reaching the end is the failure.
int HostBuffer(pg::Communicator& nccl) {
  std::vector<float> host(8, 1.f);
  nccl.AllReduceSum(host.data(), host.size());
  std::printf("host-buffer case finished without an error\n");
  return 1;
}

int Run(const std::string& mode) {
  auto mpi = pg::MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  if (mpi->AllReduceMinInt64(devices) < mpi->size()) {
    if (mpi->rank() == 0) std::printf("SKIP: need %d GPUs, have %d\n", mpi->size(), devices);
    return 77;
  }
  cudaStream_t stream;
  CUDA_OK(cudaSetDevice(mpi->rank()));
  CUDA_OK(cudaStreamCreate(&stream));
  {
    auto nccl = pg::MakeNcclCommunicator(MPI_COMM_WORLD, mpi->rank(), stream, "world");
    MPITEST_CHECK(nccl->buffer_space() == pg::MemorySpace::kDevice, "NCCL buffers not on device");
    if (mode == "host_buffer") return HostBuffer(*nccl);
    const int n = nccl->size(), r = nccl->rank();
    // AllReduceSum: exact, and bit-identical to MPI on the same non-integer inputs.
    for (size_t count : {size_t{1}, size_t{1000003}}) {
      std::vector<float> in(count);
      for (size_t i = 0; i < count; ++i) in[i] = float((r + 1) * int(i % 97 + 1));
      auto out = OnDevice(in, count, [&](float* d) { nccl->AllReduceSum(d, count); });
      for (size_t i = 0; i < count; ++i) {
        if (out[i] != float(int(i % 97 + 1) * n * (n + 1) / 2)) {
          MPITEST_CHECK(false, "NCCL AllReduceSum element " << i << " = " << out[i]);
          break;
        }
      }
    }
    // Bit-identical to MPI on non-integer inputs (the same summation for the same group).
    {
      std::vector<float> in(4099);
      for (size_t i = 0; i < in.size(); ++i) in[i] = 1.f / float(int(i % 13) + 3 + r);
      auto mpi_out = in;
      mpi->AllReduceSum(mpi_out.data(), mpi_out.size());
      auto out = OnDevice(in, in.size(), [&](float* d) { nccl->AllReduceSum(d, in.size()); });
      MPITEST_CHECK(out == mpi_out, "NCCL f32 all-reduce of non-integers differs from MPI's");
    }
    // bf16 partial sums round to nearest even: ranks 0 and 1 give 1 and 1.5 ulp(1) (the others
    // 0), so the one inexact partial sum is a tie, 1 + 2 ulp; truncating it would give 1 + 1 ulp.
    if (n >= 2) {
      const uint16_t one = 0x3F80, ulp_and_half = 0x3C40;  // 1.0 and 0.01171875 = 1.5 * 2^-7
      std::vector<uint16_t> in(7, r == 0 ? one : r == 1 ? ulp_and_half : uint16_t{0});
      auto out = OnDevice(in, in.size(), [&](uint16_t* d) { nccl->AllReduceSumBf16(d, in.size()); });
      for (uint16_t v : out) MPITEST_CHECK_EQ(int(v), 0x3F82);  // 1.015625
    }
    // bf16: small integers are exact.
    std::vector<uint16_t> bf(301);
    for (size_t i = 0; i < bf.size(); ++i) {
      const float v = float((r + 1) * int(i % 5 + 1));
      uint32_t bits;
      std::memcpy(&bits, &v, 4);
      bf[i] = uint16_t(bits >> 16);
    }
    auto mpi_bf = bf;
    mpi->AllReduceSumBf16(mpi_bf.data(), mpi_bf.size());
    auto nccl_bf = OnDevice(bf, bf.size(), [&](uint16_t* d) { nccl->AllReduceSumBf16(d, bf.size()); });
    MPITEST_CHECK(nccl_bf == mpi_bf, "NCCL bf16 all-reduce differs from MPI's");
    // Broadcast from the last rank.
    std::vector<unsigned char> bytes(1001, 0xEE);
    if (r == n - 1) for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = (unsigned char)(i * 7);
    auto got = OnDevice(bytes, bytes.size(), [&](unsigned char* d) { nccl->Broadcast(d, bytes.size(), n - 1); });
    for (size_t i = 0; i < got.size(); ++i) MPITEST_CHECK_EQ(int(got[i]), int((i * 7) & 0xff));
    // AllGather.
    std::vector<float> mine(13);
    for (size_t i = 0; i < mine.size(); ++i) mine[i] = float(r * 1000 + int(i));
    std::vector<float> gathered(13 * n);
    float *d_send = nullptr, *d_recv = nullptr;
    CUDA_OK(cudaMalloc(&d_send, 13 * sizeof(float)));
    CUDA_OK(cudaMalloc(&d_recv, 13 * n * sizeof(float)));
    CUDA_OK(cudaMemcpy(d_send, mine.data(), 13 * sizeof(float), cudaMemcpyHostToDevice));
    nccl->AllGather(d_send, d_recv, 13);
    CUDA_OK(cudaMemcpy(gathered.data(), d_recv, gathered.size() * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaFree(d_send));
    CUDA_OK(cudaFree(d_recv));
    for (int q = 0; q < n; ++q) {
      for (int i = 0; i < 13; ++i) MPITEST_CHECK_EQ(gathered[q * 13 + i], float(q * 1000 + i));
    }
    // Control plane over MPI.
    MPITEST_CHECK_EQ(nccl->AllReduceSumInt64(r), int64_t(n) * (n - 1) / 2);
    MPITEST_CHECK_EQ(nccl->BroadcastString(r == 0 ? "id" : "", 0), std::string("id"));
  }
  CUDA_OK(cudaStreamDestroy(stream));
  return pg_mpitest::AgreeOnResult("nccl collectives");
}

}  // namespace

int main(int argc, char** argv) {
  return pg::RunMpiMain(argc, argv, [](int c, char** v) { return Run(c > 1 ? v[1] : ""); });
}
