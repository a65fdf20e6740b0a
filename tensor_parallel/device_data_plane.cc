#include "tensor_parallel/device_data_plane.h"

#include "dist/nccl_communicator.h"
#include "runtime/cuda_backend.h"

namespace pg {

std::unique_ptr<Communicator> MakeDeviceDataPlane(MpiCommunicator& tp_group, Backend& backend, int device) {
  if (tp_group.size() == 1 || backend.name() != "cuda") return nullptr;
  return MakeNcclCommunicator(tp_group.comm(), device, CudaBackendStream(backend), "tp");
}

}  // namespace pg
