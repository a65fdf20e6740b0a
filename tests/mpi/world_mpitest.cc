// Multi-rank tests of World (the [dp, tp] grid), run under mpirun by tests/mpi/tests.cmake:
//   world_mpitest layout <tp>          layout, group membership, group-local collectives
//   world_mpitest bad_tp <tp>          tp does not divide the world: every rank prints the same
//                                      error and the job exits 1 (no hang, no MPI_Abort)
//   world_mpitest mismatched_tp        rank 0 asks for another tp than the others
//   world_mpitest check_divides <tp>   CheckDivides inside AgreePhase, as model setup does
//   world_mpitest phases               AgreePhase "open", "load weights", "decode" (with
//                                      PG_DEBUG_FAIL_PHASE one rank fails one of them)
#include <cstdio>
#include <string>
#include <vector>

#include "dist/error_agreement.h"
#include "dist/run_main.h"
#include "dist/world.h"
#include "runtime/check.h"
#include "tests/mpi/mpitest_util.h"

namespace {

// Gathers the world ranks of `group` (float-valued, exact) in group order.
std::vector<int> Members(pg::Communicator& group, int world_rank) {
  const float mine = float(world_rank);
  std::vector<float> all(group.size(), -1.f);
  group.AllGather(&mine, all.data(), 1);
  return std::vector<int>(all.begin(), all.end());
}

std::string Join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

int RunLayout(int tp) {
  pg::World world = pg::World::Create(tp);
  const pg::WorldConfig& c = world.config();
  const int rank = pg_mpitest::WorldRank(), size = pg_mpitest::WorldSize();
  MPITEST_CHECK_EQ(c.world_rank, rank);
  MPITEST_CHECK_EQ(c.world_size, size);
  MPITEST_CHECK_EQ(c.tp, tp);
  MPITEST_CHECK_EQ(c.dp, size / tp);
  MPITEST_CHECK_EQ(c.tp_rank, rank % tp);
  MPITEST_CHECK_EQ(c.dp_rank, rank / tp);
  // mpirun starts every rank on this host.
  MPITEST_CHECK_EQ(c.local_rank, rank);
  MPITEST_CHECK_EQ(c.local_size, size);

  // tp group: consecutive ranks; dp group: same tp_rank, stride tp.
  std::vector<int> tp_expected, dp_expected;
  for (int i = 0; i < tp; ++i) tp_expected.push_back(c.dp_rank * tp + i);
  for (int i = 0; i < c.dp; ++i) dp_expected.push_back(i * tp + c.tp_rank);
  MPITEST_CHECK_EQ(Join(Members(world.tp_group(), rank)), Join(tp_expected));
  MPITEST_CHECK_EQ(Join(Members(world.dp_group(), rank)), Join(dp_expected));

  // A tp all-reduce sums only the group: sum of world ranks dp_rank*tp .. dp_rank*tp+tp-1.
  float x = float(rank);
  world.tp_group().AllReduceSum(&x, 1);
  MPITEST_CHECK_EQ(x, float(c.dp_rank * tp * tp + tp * (tp - 1) / 2));

  // Error agreement is per group: in each tp group the lowest failing tp rank wins.
  const bool fails = tp == 1 || c.tp_rank >= 1;
  int failing = -2;
  const std::string agreed = pg::AgreeOnError(
      world.tp_group(), fails ? "bad shard on world rank " + std::to_string(rank) : "", &failing);
  const int lowest_tp_rank = tp == 1 ? 0 : 1;
  MPITEST_CHECK_EQ(agreed, "bad shard on world rank " + std::to_string(c.dp_rank * tp +
                                                                        lowest_tp_rank));
  MPITEST_CHECK_EQ(failing, lowest_tp_rank);

  world.SetCollectiveTimeout(42);
  MPITEST_CHECK_EQ(world.tp_group().collective_timeout(), 42.0);
  MPITEST_CHECK_EQ(world.dp_group().collective_timeout(), 42.0);
  return pg_mpitest::AgreeOnResult("world layout tp " + std::to_string(tp));
}

int RunCheckDivides(int tp) {
  pg::World world = pg::World::Create(tp);
  pg::AgreePhase(world.world(), "setup", [&] {
    pg::CheckDivides("query heads", 8, tp, "tiny");
    pg::CheckDivides("MLP columns", 4304, tp, "tiny");
  });
  return 0;
}

int ParseTp(int argc, char** argv) {
  PG_CHECK(argc > 2, "missing <tp> argument");
  return std::stoi(argv[2]);
}

}  // namespace

int main(int argc, char** argv) {
  return pg::RunMpiMain(argc, argv, [](int argc, char** argv) {
    const std::string which = argc > 1 ? argv[1] : "";
    if (which == "layout") return RunLayout(ParseTp(argc, argv));
    if (which == "bad_tp") {
      pg::World::Create(ParseTp(argc, argv));
      return 0;
    }
    if (which == "mismatched_tp") {
      pg::World::Create(pg_mpitest::WorldRank() == 0 ? 1 : 2);
      return 0;
    }
    if (which == "phases") {
      pg::World world = pg::World::Create(1);
      for (const char* phase : {"open", "load weights", "decode"}) {
        pg::AgreePhase(world.world(), phase, [] {});
      }
      std::fprintf(stderr, "[rank %d] all phases passed\n", world.config().world_rank);
      return 0;
    }
    if (which == "check_divides") return RunCheckDivides(ParseTp(argc, argv));
    PG_THROW("usage: world_mpitest layout|bad_tp|mismatched_tp|check_divides [tp] (got '"
             << which << "')");
  });
}
