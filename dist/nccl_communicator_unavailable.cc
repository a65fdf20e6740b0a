// Compiled only without CUDA: the NCCL factory exists and says how to get it.
#include "dist/nccl_communicator.h"

#include "runtime/check.h"

namespace pg {

std::unique_ptr<Communicator> MakeNcclCommunicator(MPI_Comm /*group*/, int /*device*/,
                                                   void* /*stream*/, const std::string& label) {
  PG_THROW("cannot create the NCCL communicator '"
           << label
           << "': this build has no CUDA/NCCL: rebuild with -DPG_WITH_CUDA=ON or use --backend cpu");
}

}  // namespace pg
