#include "bench/bench_layout.h"

#include <sstream>

#include "runtime/check.h"

namespace pg {

std::string BenchLayout::Label() const {
  std::ostringstream os;
  os << ranks << " rank" << (ranks == 1 ? "" : "s") << " = tp " << tp << " x dp " << dp;
  return os.str();
}

std::string LayoutProblem(int world_size, int ranks, int tp) {
  std::ostringstream os;
  if (ranks < 1 || ranks > world_size)
    os << ranks << " ranks do not fit the MPI world of " << world_size << " (mpirun -np " << world_size << ")";
  else if (tp < 1 || ranks % tp != 0)
    os << "--tp " << tp << " does not divide " << ranks << " ranks";
  return os.str();
}

BenchLayout MakeBenchLayout(MpiCommunicator& world, int ranks, int tp) {
  const std::string problem = LayoutProblem(world.size(), ranks, tp);
  PG_CHECK(problem.empty(), "bench layout: " << problem);
  BenchLayout l;
  l.ranks = ranks;
  l.tp = tp;
  l.dp = ranks / tp;
  const int r = world.rank();
  l.active = r < ranks;
  l.tp_rank = l.active ? r % tp : 0;
  l.dp_rank = l.active ? r / tp : 0;
  // Idle ranks get colors no active rank uses, one each.
  l.active_comm = world.SplitMpi(l.active ? 0 : 1 + r, r, "bench");
  l.tp_comm = world.SplitMpi(l.active ? r / tp : ranks + r, l.tp_rank, "tp");
  PG_CHECK(!l.active || (l.tp_comm->size() == tp && l.tp_comm->rank() == l.tp_rank),
           "bench layout " << l.Label() << ": tp group of world rank " << r << " came out as rank "
                           << l.tp_comm->rank() << " of " << l.tp_comm->size());
  return l;
}

}  // namespace pg
