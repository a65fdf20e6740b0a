// The NCCL communicator: data plane on the GPU (buffers are device pointers, ops enqueued on
// `stream`), control plane (Barrier, *Int64, BroadcastHost, BroadcastString) over MPI on the
// same group.
//
// Bootstrap (the only one, STYLE rule 4): rank 0 of `group` calls ncclGetUniqueId, MPI
// broadcasts it, every rank calls ncclCommInitRankConfig (non-blocking) and polls it under
// the collective deadline.
//
// Hang safety: after each enqueued collective the caller's thread polls cudaStreamQuery and
// ncclCommGetAsyncError until the stream is drained (so results are ready on return, like MPI),
// an error, or the deadline; on error or timeout: log, ncclCommAbort, MPI_Abort.
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
