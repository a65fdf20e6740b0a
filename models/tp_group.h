// TpGroup: this rank's place in its tensor-parallel group, as the model code sees it.
// comm is null when the group has one rank (no collectives are issued at TP=1).
#pragma once

#include "dist/communicator.h"

namespace pg {

struct TpGroup {
  Communicator* comm = nullptr;
  int rank = 0;
  int size = 1;

  bool parallel() const { return size > 1; }
  bool leader() const { return rank == 0; }
};

}  // namespace pg
