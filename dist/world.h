// The [dp, tp] process grid (STYLE rule 4): consecutive ranks form a tensor-parallel group,
// tp innermost (TensorRT-LLM's rank % tp):
//
//   world_rank = dp_rank * tp + tp_rank      e.g. np 4, tp 2: tp groups {0,1} {2,3},
//                                                              dp groups {0,2} {1,3}
//
// World owns the world, tp-group and dp-group communicators (MPI, host buffers). A CUDA run
// builds its NCCL tp communicator from tp_group().comm() (dist/nccl_communicator.h).
#pragma once

#include <memory>
#include <string>

#include "dist/mpi_communicator.h"

namespace pg {

struct WorldConfig {
  int world_rank = 0;
  int world_size = 1;
  int tp = 1;          // ranks per tensor-parallel group
  int dp = 1;          // number of tensor-parallel groups (data-parallel replicas)
  int tp_rank = 0;     // rank within the tp group = world_rank % tp
  int dp_rank = 0;     // which tp group = world_rank / tp
  int local_rank = 0;  // rank among the processes of this host (picks the GPU)
  int local_size = 1;

  // "rank 3/4 tp 1/2 dp 1/2 local 3/4"
  std::string ToString() const;
};

// "" when world_size ranks can be split into groups of `tp`, else the error every rank prints
// (it depends only on world_size and tp, so all ranks reach the same verdict).
std::string LayoutError(int world_size, int tp);

// The pure [dp, tp] arithmetic; throws pg::Error with LayoutError's message.
WorldConfig MakeWorldConfig(int world_rank, int world_size, int tp, int local_rank,
                            int local_size);

// Throws pg::Error unless `tp` divides `value`, e.g.
//   "model 'tiny': 8 query heads are not divisible by --tp 3 (world size 3); use a --tp that
//    divides 8 (1, 2, 4, 8)"
// world_size < 0: taken from MPI_COMM_WORLD when MPI is running, else left out.
// Every rank computes the same verdict from the same config; wrap setup in AgreePhase
// (dist/error_agreement.h) so all ranks exit with the message.
void CheckDivides(const char* what, int value, int tp, const std::string& model_name,
                  int world_size = -1);

class World {
 public:
  // Collective over MPI_COMM_WORLD. Checks that every rank was given the same tp and that tp
  // divides the world size; on failure every rank throws the same AgreedError.
  static World Create(int tp);

  World(World&&) = default;
  World& operator=(World&&) = default;

  const WorldConfig& config() const { return config_; }
  MpiCommunicator& world() { return *world_; }
  MpiCommunicator& tp_group() { return *tp_group_; }  // size tp, rank tp_rank
  MpiCommunicator& dp_group() { return *dp_group_; }  // size dp, rank dp_rank

  // Applies to all three communicators.
  void SetCollectiveTimeout(double seconds);

 private:
  World() = default;

  WorldConfig config_;
  std::unique_ptr<MpiCommunicator> world_;
  std::unique_ptr<MpiCommunicator> tp_group_;
  std::unique_ptr<MpiCommunicator> dp_group_;
};

// The number of processes in MPI_COMM_WORLD (1 when MPI is not initialised).
int WorldSize();

}  // namespace pg
