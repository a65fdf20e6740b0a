// One (ranks, tp) layout of a benchmark, carved out of the MPI world inside one mpirun, so a
// single `mpirun -np 4 paligemma bench --ranks 1,2,4 --tp 1,2,4` measures every layout:
//
//   world ranks [0, ranks) are active: ranks / tp tensor-parallel groups of tp consecutive
//   ranks (tp innermost, as dist/world.h: world_rank = dp_rank * tp + tp_rank);
//   world ranks [ranks, world) idle (each in a group of its own) until the layout is done.
//
// Idle ranks wait in polling-with-sleep collectives (dist/collective_deadline.h), so they take
// almost no CPU from the active ones. Collective over `world`.
#pragma once

#include <memory>
#include <string>

#include "dist/mpi_communicator.h"

namespace pg {

struct BenchLayout {
  int ranks = 1;  // active ranks
  int tp = 1;
  int dp = 1;     // ranks / tp
  bool active = false;
  int tp_rank = 0, dp_rank = 0;
  std::unique_ptr<MpiCommunicator> active_comm;  // the active ranks (an idle rank: itself)
  std::unique_ptr<MpiCommunicator> tp_comm;      // this rank's tensor-parallel group

  std::string Label() const;  // "4 ranks = tp 2 x dp 2"
};

// "" if the layout can run on `world_size` ranks, else why not.
std::string LayoutProblem(int world_size, int ranks, int tp);

BenchLayout MakeBenchLayout(MpiCommunicator& world, int ranks, int tp);

}  // namespace pg
