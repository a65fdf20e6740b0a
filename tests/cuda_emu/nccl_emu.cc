// Emulated NCCL over MPI (tests/cuda_emu/include/nccl.h; docs/CUDA_BACKEND.md, "Emulated NCCL").
//
// Bootstrap: ncclGetUniqueId writes a magic, the caller's MPI_COMM_WORLD rank, its pid and a
// per-process counter into the id. In ncclCommInitRank every other rank sends (rank, world rank,
// device, host) to the id's maker over MPI_COMM_WORLD (a tag derived from the counter), the maker
// answers with the table, and all of them call MPI_Comm_create_group (collective only over the
// new group, as ncclCommInitRank is). Two ranks on one device of one host are rejected, as NCCL
// does.
//
// Collectives: buffers checked against the emulator's live device allocations, then one
// MPI_Iallreduce / MPI_Ibcast / MPI_Iallgather; completion as described in nccl.h.
#include <nccl.h>

#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/dtype.h"

struct PgEmuNcclComm {
  MPI_Comm mpi = MPI_COMM_NULL;
  int rank = 0, size = 0;
  bool blocking = true;
  std::thread::id owner;            // the only thread that calls MPI for this communicator
  MPI_Request pending = MPI_REQUEST_NULL;
  std::atomic<int> state{ncclSuccess};
  std::atomic<bool> aborted{false};
  std::string last_error;
};

namespace {

constexpr char kMagic[] = "pg-nccl-emu";
constexpr int kTagBase = 30000;  // MPI_TAG_UB is at least 32767
constexpr int kTags = 2000;

struct IdFields {
  char magic[sizeof(kMagic)];
  int world_rank;
  int pid;
  int counter;
};
static_assert(sizeof(IdFields) <= NCCL_UNIQUE_ID_BYTES, "id fields fit the unique id");

struct Member {
  int rank, world_rank, device;
  uint64_t host;
};

int WorldRank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

uint64_t HostHash() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return std::hash<std::string>()(name);
}

ncclResult_t Error(ncclComm_t comm, ncclResult_t r, const std::string& why) {
  if (comm) comm->last_error = why;
  return r;
}

// The element size of the types the emulation supports, 0 otherwise.
size_t TypeBytes(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclBfloat16: case ncclFloat16: return 2;
    case ncclFloat32: case ncclInt32: case ncclUint32: return 4;
    default: return 0;
  }
}

// bf16 sum, every partial sum rounded to nearest even (as NCCL's bf16 reduction).
void Bf16Sum(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = pg::F32ToBf16(pg::Bf16ToF32(a[i]) + pg::Bf16ToF32(b[i]));
}

MPI_Op Bf16SumOp() {
  static MPI_Op op = [] {
    MPI_Op o;
    MPI_Op_create(&Bf16Sum, /*commute=*/1, &o);
    return o;
  }();
  return op;
}

// Common checks of a collective call: a live communicator, no collective still in progress,
// a valid stream and every buffer inside a live device allocation.
ncclResult_t Begin(ncclComm_t comm, const char* op, cudaStream_t stream,
                   std::initializer_list<std::pair<const void*, size_t>> buffers) {
  if (!comm) return ncclInvalidArgument;
  if (comm->aborted) return Error(comm, ncclInvalidUsage, std::string(op) + " on an aborted communicator");
  if (comm->pending != MPI_REQUEST_NULL)
    return Error(comm, ncclInvalidUsage, std::string(op) + " while the previous collective is in progress");
  if (cudaStreamSynchronize(stream) != cudaSuccess)
    return Error(comm, ncclInvalidArgument, std::string(op) + ": invalid stream");
  for (const auto& [p, bytes] : buffers) {
    std::string why;
    if (bytes > 0 && !pgemu::DeviceRange(p, bytes, &why))
      return Error(comm, ncclInvalidArgument,
                   std::string(op) + ": buffer " + why + " is not device memory of this rank");
  }
  return ncclSuccess;
}

// Completes `comm->pending` now (blocking communicator) or reports it in progress.
ncclResult_t Issue(ncclComm_t comm, int mpi_result, const char* op) {
  if (mpi_result != MPI_SUCCESS) return Error(comm, ncclSystemError, std::string(op) + ": MPI call failed");
  if (comm->blocking) {
    MPI_Wait(&comm->pending, MPI_STATUS_IGNORE);
    return ncclSuccess;
  }
  int done = 0;
  MPI_Test(&comm->pending, &done, MPI_STATUS_IGNORE);
  if (done) return ncclSuccess;
  comm->state = ncclInProgress;
  return ncclInProgress;
}

bool CountFits(size_t count) { return count <= static_cast<size_t>(INT32_MAX); }

}  // namespace

const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
  }
  return "unknown result code";
}

const char* ncclGetLastError(ncclComm_t comm) { return comm ? comm->last_error.c_str() : ""; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  static std::atomic<int> counter{0};
  if (!id) return ncclInvalidArgument;
  std::memset(id, 0, sizeof(*id));
  IdFields f;
  std::memcpy(f.magic, kMagic, sizeof(kMagic));
  f.world_rank = WorldRank();
  f.pid = static_cast<int>(getpid());
  f.counter = counter++;
  std::memcpy(id->internal, &f, sizeof(f));
  return ncclSuccess;
}

ncclResult_t ncclCommInitRankConfig(ncclComm_t* out, int nranks, ncclUniqueId id, int rank, ncclConfig_t* config) {
  if (!out || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  IdFields f;
  std::memcpy(&f, id.internal, sizeof(f));
  if (std::memcmp(f.magic, kMagic, sizeof(kMagic)) != 0) return ncclInvalidArgument;
  auto* comm = new PgEmuNcclComm;
  comm->rank = rank;
  comm->size = nranks;
  comm->blocking = config == nullptr || config->blocking != 0;
  comm->owner = std::this_thread::get_id();
  *out = comm;

  Member me{rank, WorldRank(), 0, HostHash()};
  cudaGetDevice(&me.device);
  const int tag = kTagBase + f.counter % kTags;
  std::vector<Member> table(nranks);
  const bool maker = me.world_rank == f.world_rank;
  if (maker) {
    table[rank] = me;
    for (int i = 1; i < nranks; ++i) {
      Member m;
      MPI_Recv(&m, sizeof(m), MPI_BYTE, MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (m.rank < 0 || m.rank >= nranks) return Error(comm, ncclInvalidUsage, "rank outside the communicator");
      table[m.rank] = m;
    }
    for (const Member& m : table)
      if (m.world_rank != me.world_rank)
        MPI_Send(table.data(), static_cast<int>(sizeof(Member) * nranks), MPI_BYTE, m.world_rank, tag, MPI_COMM_WORLD);
  } else {
    MPI_Send(&me, sizeof(me), MPI_BYTE, f.world_rank, tag, MPI_COMM_WORLD);
    MPI_Recv(table.data(), static_cast<int>(sizeof(Member) * nranks), MPI_BYTE, f.world_rank, tag, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
  }
  std::vector<int> world_ranks(nranks);
  for (int i = 0; i < nranks; ++i) {
    world_ranks[i] = table[i].world_rank;
    for (int j = 0; j < i; ++j)
      if (table[j].host == table[i].host && table[j].device == table[i].device)
        return Error(comm, ncclInvalidUsage,
                     "ranks " + std::to_string(j) + " and " + std::to_string(i) + " use the same device " +
                         std::to_string(table[i].device) + " (set PG_CUDA_EMU_DEVICES to the ranks per host)");
  }
  MPI_Group world_group, group;
  MPI_Comm_group(MPI_COMM_WORLD, &world_group);
  MPI_Group_incl(world_group, nranks, world_ranks.data(), &group);
  const int r = MPI_Comm_create_group(MPI_COMM_WORLD, group, tag, &comm->mpi);
  MPI_Group_free(&group);
  MPI_Group_free(&world_group);
  if (r != MPI_SUCCESS) return Error(comm, ncclSystemError, "MPI_Comm_create_group failed");
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  return ncclCommInitRankConfig(comm, nranks, id, rank, nullptr);
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* async_error) {
  if (!comm || !async_error) return ncclInvalidArgument;
  if (comm->pending != MPI_REQUEST_NULL && !comm->aborted && std::this_thread::get_id() == comm->owner) {
    int done = 0;
    MPI_Test(&comm->pending, &done, MPI_STATUS_IGNORE);
    if (done) comm->state = ncclSuccess;
  }
  *async_error = static_cast<ncclResult_t>(comm->state.load());
  return ncclSuccess;
}

ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  if (comm->pending != MPI_REQUEST_NULL) MPI_Wait(&comm->pending, MPI_STATUS_IGNORE);
  comm->state = ncclSuccess;
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  if (comm->pending != MPI_REQUEST_NULL) MPI_Wait(&comm->pending, MPI_STATUS_IGNORE);
  if (comm->mpi != MPI_COMM_NULL) MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}

// May be called from any thread (the watchdog): marks the communicator dead without calling MPI
// (the caller then ends the job; the MPI communicator is left to MPI_Abort). The asynchronous
// state is left as it was (a real aborted communicator is gone; this one reports no new error).
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  comm->aborted = true;
  return ncclSuccess;
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (!comm || !count) return ncclInvalidArgument;
  *count = comm->size;
  return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (!comm || !rank) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
  if (op != ncclSum || (type != ncclFloat32 && type != ncclBfloat16) || !CountFits(count))
    return Error(comm, ncclInvalidArgument, "ncclAllReduce: the emulation supports f32 / bf16 sums of < 2^31 elements");
  const size_t bytes = count * TypeBytes(type);
  if (ncclResult_t r = Begin(comm, "ncclAllReduce", stream, {{send, bytes}, {recv, bytes}}); r != ncclSuccess) return r;
  const void* in = send == recv ? MPI_IN_PLACE : send;
  const MPI_Datatype dt = type == ncclFloat32 ? MPI_FLOAT : MPI_UINT16_T;
  const MPI_Op mop = type == ncclFloat32 ? MPI_SUM : Bf16SumOp();
  return Issue(comm, MPI_Iallreduce(in, recv, static_cast<int>(count), dt, mop, comm->mpi, &comm->pending),
               "ncclAllReduce");
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type, int root,
                           ncclComm_t comm, cudaStream_t stream) {
  const size_t elem = TypeBytes(type);
  if (elem == 0 || !CountFits(count * elem) || !comm || root < 0 || root >= comm->size)
    return Error(comm, ncclInvalidArgument, "ncclBroadcast: bad type, count or root");
  const size_t bytes = count * elem;
  const bool is_root = comm->rank == root;
  if (ncclResult_t r = Begin(comm, "ncclBroadcast", stream, {{is_root ? send : recv, bytes}, {recv, bytes}});
      r != ncclSuccess)
    return r;
  if (is_root && send != recv) std::memmove(recv, send, bytes);
  return Issue(comm, MPI_Ibcast(recv, static_cast<int>(bytes), MPI_BYTE, root, comm->mpi, &comm->pending),
               "ncclBroadcast");
}

ncclResult_t ncclAllGather(const void* send, void* recv, size_t count, ncclDataType_t type, ncclComm_t comm,
                           cudaStream_t stream) {
  const size_t elem = TypeBytes(type);
  if (elem == 0 || !comm || !CountFits(count * elem * comm->size))
    return Error(comm, ncclInvalidArgument, "ncclAllGather: bad type or count");
  const size_t bytes = count * elem;
  if (ncclResult_t r = Begin(comm, "ncclAllGather", stream, {{send, bytes}, {recv, bytes * comm->size}});
      r != ncclSuccess)
    return r;
  char* mine = static_cast<char*>(recv) + bytes * comm->rank;
  if (send != mine) std::memmove(mine, send, bytes);  // NCCL allows send inside recv at this rank's block
  return Issue(comm,
               MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, static_cast<int>(bytes), MPI_BYTE, comm->mpi,
                              &comm->pending),
               "ncclAllGather");
}

// Every call executes at once, so a group is the calls in order.
ncclResult_t ncclGroupStart() { return ncclSuccess; }
ncclResult_t ncclGroupEnd() { return ncclSuccess; }
