// The NCCL communicator: data plane on the GPU (buffers are device pointers, ops enqueued on
// `stream`), control plane (Barrier, *Int64, BroadcastHost, BroadcastString) over MPI on the
// same group.
//
// Bootstrap (the only one, STYLE rule 4): rank 0 of `group` calls ncclGetUniqueId, MPI
// broadcasts it, every rank calls ncclCommInitRankConfig (non-blocking) and polls it under
// the collective deadline.
//
// Hang safety without host waits: a collective is enqueued on `stream` with a completion event
// after it and the call returns at once (results are ready in stream order, not on return); a
// watchdog thread (dist/collective_watchdog.h) polls ncclCommGetAsyncError and the events; on an
// error, or a collective not done within the collective deadline of its enqueue: log,
// ncclCommAbort, MPI_Abort. At most 64 collectives are in flight (the 65th waits for the oldest).
//
// Built without CUDA (dist/nccl_communicator_unavailable.cc) the factory throws pg::Error
// telling the user to rebuild with -DPG_WITH_CUDA=ON or use --backend cpu.
//
//   auto tp_comm = MakeNcclCommunicator(world.tp_group().comm(), world.config().local_rank,
//                                       stream, "tp");
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace pg {

// group: duplicated (the caller keeps ownership of its handle). device: CUDA device ordinal,
// made current on the calling thread. stream: a cudaStream_t (nullptr = legacy default stream).
// Collective over `group`.
std::unique_ptr<Communicator> MakeNcclCommunicator(MPI_Comm group, int device, void* stream,
                                                   const std::string& label = "tp");

}  // namespace pg
