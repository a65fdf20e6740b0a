// Which communicator carries a tensor-parallel group's data plane (the model's all-reduces and
// all-gathers on backend buffers): the group's MPI communicator when the buffers are in host
// memory (CPU backend, or tp 1), else NCCL on the backend's stream, so that collectives are
// ordered after the ops that fill their buffers (dist/nccl_communicator.h).
#pragma once

#include <memory>

#include "dist/mpi_communicator.h"
#include "runtime/backend.h"

namespace pg {

// nullptr when `tp_group` itself is the data plane (host buffers or a single rank); otherwise a
// new NCCL communicator over the same ranks on `backend`'s device and stream (`device`, the
// requested ordinal, is what the backend resolved to local rank % visible GPUs). Collective over
// `tp_group`. The result must be destroyed before `backend`.
std::unique_ptr<Communicator> MakeDeviceDataPlane(MpiCommunicator& tp_group, Backend& backend, int device);

}  // namespace pg
