#include "tensor_parallel/device_data_plane.h"

#include "dist/nccl_communicator.h"
#include "runtime/cuda_backend.h"

namespace pg {

std::unique_ptr<Communicator> MakeDeviceDataPlane(MpiCommunicator& tp_group, Backend& backend, int device) {
  if (tp_group.size() == 1 || backend.name() != "cuda") return nullptr;
  // The backend's own device: `device` (the local rank) wrapped onto the visible GPUs.
  return MakeNcclCommunicator(tp_group.comm(), CudaBackendDevice(backend), CudaBackendStream(backend), "tp");
}

}  // namespace pg
