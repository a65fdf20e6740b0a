// Emulated NCCL (docs/CUDA_BACKEND.md, "Emulated NCCL"): the subset dist/cuda/nccl_communicator.cc
// uses, implemented over MPI by tests/cuda_emu/nccl_emu.cc so that the NCCL communicator, the
// device data plane and the collective deadlines run under mpirun in CI without a GPU.
//
// Each rank is one process with its own emulated device, so "device memory" is host memory of
// that process: a collective checks that every buffer lies inside one live emulated device
// allocation (cudaMalloc / cudaMallocAsync), then runs as one non-blocking MPI collective on a
// communicator of the ranks that share the unique id. The emulated stream executes in order at
// the call, so the collective is complete before the call's effects are visible: a blocking
// communicator waits for it at the call; a non-blocking one (ncclConfig_t::blocking = 0) returns
// ncclInProgress until ncclCommGetAsyncError, polled by the thread that created the
// communicator, sees the MPI request complete (a rank that never joins keeps it in progress, so
// the caller's deadline fires). Other threads (the watchdog) see the last state without calling
// MPI (MPI_THREAD_FUNNELED).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1,
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6,
  ncclInProgress = 7,
} ncclResult_t;

typedef enum {
  ncclInt8 = 0,
  ncclChar = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclFloat32 = 7,
  ncclFloat64 = 8,
  ncclBfloat16 = 9,
} ncclDataType_t;

typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

struct PgEmuNcclComm;
typedef PgEmuNcclComm* ncclComm_t;

typedef struct {
  int blocking;  // 1 (default): calls wait for their collective; 0: they may return ncclInProgress
} ncclConfig_t;
#define NCCL_CONFIG_INITIALIZER {1}

const char* ncclGetErrorString(ncclResult_t result);
const char* ncclGetLastError(ncclComm_t comm);
// The id names the calling process (world rank, pid) and a counter; it must be made by a rank
// that then joins the communicator (in paligemma-tp: rank 0 of the group).
ncclResult_t ncclGetUniqueId(ncclUniqueId* id);
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank);
ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank,
                                    ncclConfig_t* config);
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* async_error);
ncclResult_t ncclCommFinalize(ncclComm_t comm);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclCommAbort(ncclComm_t comm);
ncclResult_t ncclCommCount(const ncclComm_t comm, int* count);
ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank);

// Supported: ncclFloat32 and ncclBfloat16 with ncclSum (bf16: every partial sum rounded to
// nearest even, as NCCL does); bytes (ncclUint8 / ncclInt8) and ncclFloat32 for broadcast and
// all-gather.
ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclGroupStart();
ncclResult_t ncclGroupEnd();
