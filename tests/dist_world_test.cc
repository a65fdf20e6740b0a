// Single-rank tests of the dist/ layer: the [dp, tp] arithmetic and its errors, CheckDivides,
// the collective timeout settings, and World/MpiCommunicator/error agreement on one rank.
// Multi-rank behaviour is tested under mpirun in tests/mpi/.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dist/collective_deadline.h"
#include "dist/error_agreement.h"
#include "dist/nccl_communicator.h"
#include "dist/world.h"

namespace pg {
namespace {

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WorldConfigTest, TpInnermostLayoutForEightRanks) {
  // np 8, tp 2: tp groups {0,1} {2,3} {4,5} {6,7}.
  const int expected_tp_rank[] = {0, 1, 0, 1, 0, 1, 0, 1};
  const int expected_dp_rank[] = {0, 0, 1, 1, 2, 2, 3, 3};
  for (int r = 0; r < 8; ++r) {
    const WorldConfig c = MakeWorldConfig(r, 8, 2, r, 8);
    EXPECT_EQ(c.world_rank, r);
    EXPECT_EQ(c.tp, 2);
    EXPECT_EQ(c.dp, 4);
    EXPECT_EQ(c.tp_rank, expected_tp_rank[r]) << "rank " << r;
    EXPECT_EQ(c.dp_rank, expected_dp_rank[r]) << "rank " << r;
    EXPECT_EQ(c.dp_rank * c.tp + c.tp_rank, r);
  }
  EXPECT_EQ(MakeWorldConfig(3, 4, 2, 3, 4).ToString(), "rank 3/4 tp 1/2 dp 1/2 local 3/4");
  const WorldConfig all_tp = MakeWorldConfig(5, 8, 8, 1, 4);
  EXPECT_EQ(all_tp.dp, 1);
  EXPECT_EQ(all_tp.tp_rank, 5);
  EXPECT_EQ(all_tp.local_rank, 1);
}

TEST(WorldConfigTest, LayoutErrorsNameTheNumbersAndTheFix) {
  EXPECT_EQ(LayoutError(4, 2), "");
  EXPECT_EQ(LayoutError(4, 4), "");
  EXPECT_EQ(LayoutError(4, 3),
            "--tp 3 does not divide the world size 4 (mpirun -np 4): tensor-parallel groups need "
            "world_size % tp == 0; use a --tp that divides 4 (1, 2, 4)");
  EXPECT_EQ(LayoutError(2, 4),
            "--tp 4 does not divide the world size 2 (mpirun -np 2): tensor-parallel groups need "
            "world_size % tp == 0; use a --tp that divides 2 (1, 2)");
  EXPECT_EQ(LayoutError(4, 0), "--tp must be at least 1, got 0 (world size 4)");
  EXPECT_EQ(ErrorOf([] { MakeWorldConfig(0, 6, 4, 0, 1); }), LayoutError(6, 4));
  EXPECT_NE(ErrorOf([] { MakeWorldConfig(4, 4, 2, 0, 1); }), "");
}

TEST(CheckDividesTest, MessageNamesModelValueTpAndWorld) {
  EXPECT_EQ(ErrorOf([] { CheckDivides("query heads", 8, 4, "tiny", 4); }), "");
  EXPECT_EQ(ErrorOf([] { CheckDivides("query heads", 8, 3, "X", 3); }),
            "model 'X': 8 query heads are not divisible by --tp 3 (world size 3); use a --tp "
            "that divides 8 (1, 2, 4, 8)");
  EXPECT_EQ(ErrorOf([] { CheckDivides("MLP columns", 4304, 3, "paligemma-3b", 6); }),
            "model 'paligemma-3b': 4304 MLP columns are not divisible by --tp 3 (world size 6); "
            "use a --tp that divides 4304 (1, 2, 4, 8, 16, 269, 538, 1076, 2152, 4304)");
  // Without an explicit world size it comes from MPI_COMM_WORLD (1 here).
  EXPECT_EQ(ErrorOf([] { CheckDivides("kv heads", 1, 2, "tiny"); }),
            "model 'tiny': 1 kv heads are not divisible by --tp 2 (world size 1); use a --tp "
            "that divides 1 (1)");
}

class TimeoutEnvTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("PG_COLLECTIVE_TIMEOUT_S");
    SetDefaultCollectiveTimeoutSeconds(0);
  }
};

TEST_F(TimeoutEnvTest, DefaultEnvAndCodeOverride) {
  unsetenv("PG_COLLECTIVE_TIMEOUT_S");
  EXPECT_EQ(DefaultCollectiveTimeoutSeconds(), 300.0);
  setenv("PG_COLLECTIVE_TIMEOUT_S", "2.5", 1);
  EXPECT_EQ(DefaultCollectiveTimeoutSeconds(), 2.5);
  SetDefaultCollectiveTimeoutSeconds(7);
  EXPECT_EQ(DefaultCollectiveTimeoutSeconds(), 7.0);
  SetDefaultCollectiveTimeoutSeconds(0);
  EXPECT_EQ(DefaultCollectiveTimeoutSeconds(), 2.5);
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "t");
  EXPECT_EQ(comm->collective_timeout(), 2.5);
}

TEST_F(TimeoutEnvTest, BadValuesAreRejectedWithTheVariableName) {
  for (const char* bad : {"abc", "0", "-3", "5s", "inf"}) {
    setenv("PG_COLLECTIVE_TIMEOUT_S", bad, 1);
    EXPECT_EQ(ErrorOf([] { DefaultCollectiveTimeoutSeconds(); }),
              std::string("environment variable PG_COLLECTIVE_TIMEOUT_S='") + bad +
                  "' is not a positive number of seconds");
  }
  unsetenv("PG_COLLECTIVE_TIMEOUT_S");
  EXPECT_EQ(ErrorOf([] { SetDefaultCollectiveTimeoutSeconds(-1); }),
            "SetDefaultCollectiveTimeoutSeconds: collective timeout must be a positive number of "
            "seconds, got -1");
  EXPECT_NE(ErrorOf([] { SetDefaultCollectiveTimeoutSeconds(std::nan("")); }), "");
  EXPECT_EQ(DefaultCollectiveTimeoutSeconds(), 300.0) << "a rejected value must not stick";
}

TEST(PollUntilTest, ReturnsFalseAtTheDeadlineAndTrueWhenDone) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(PollUntil([] { return false; }, 0.05));
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 0.05);
  EXPECT_LT(waited, 1.0);
  int polls = 0;
  EXPECT_TRUE(PollUntil([&] { return ++polls == 500; }, 10));
  EXPECT_EQ(polls, 500);
}

TEST(WorldTest, SingleRankWorld) {
  World world = World::Create(1);
  const WorldConfig& c = world.config();
  EXPECT_EQ(c.world_size, 1);
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.dp, 1);
  EXPECT_EQ(c.local_size, 1);
  EXPECT_EQ(world.tp_group().size(), 1);
  EXPECT_EQ(world.dp_group().size(), 1);
  EXPECT_EQ(world.tp_group().name(), "mpi:tp");
  EXPECT_EQ(world.dp_group().name(), "mpi:dp");
  std::vector<float> x = {1.5f, -2.f, 3.25f};
  world.tp_group().AllReduceSum(x.data(), x.size());
  EXPECT_EQ(x, (std::vector<float>{1.5f, -2.f, 3.25f}));
  const uint64_t before = world.tp_group().last_sequence();
  world.tp_group().Barrier();
  EXPECT_EQ(world.tp_group().last_sequence(), before + 1);
}

TEST(WorldTest, TpThatDoesNotDivideTheWorldIsAnAgreedError) {
  try {
    World::Create(2);
    FAIL() << "World::Create(2) on one rank did not throw";
  } catch (const AgreedError& e) {
    EXPECT_TRUE(e.world_wide());
    EXPECT_EQ(std::string(e.what()), LayoutError(1, 2));
  }
}

TEST(ErrorAgreementTest, SingleRank) {
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  int failing = -2;
  EXPECT_EQ(AgreeOnError(*comm, "", &failing), "");
  EXPECT_EQ(failing, -1);
  EXPECT_EQ(AgreeOnError(*comm, "tokenizer.model is truncated", &failing),
            "tokenizer.model is truncated");
  EXPECT_EQ(failing, 0);
  AgreePhase(*comm, "ok", [] {});
  try {
    AgreePhase(*comm, "load", [] { throw std::runtime_error("boom"); });
    FAIL() << "AgreePhase did not throw";
  } catch (const AgreedError& e) {
    EXPECT_EQ(std::string(e.what()), "phase 'load' failed on rank 0: boom");
  }
}

TEST(MpiCommunicatorTest, MoveTransfersOwnership) {
  auto original = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "moved");
  original->Barrier();
  MpiCommunicator moved(std::move(*original));
  EXPECT_EQ(original->comm(), MPI_COMM_NULL);
  EXPECT_NE(moved.comm(), MPI_COMM_NULL);
  EXPECT_EQ(moved.name(), "mpi:moved");
  EXPECT_EQ(moved.last_sequence(), uint64_t{2});  // CommDup #1, Barrier #2
  float x = 4;
  moved.AllReduceSum(&x, 1);
  EXPECT_EQ(x, 4.f);
  EXPECT_EQ(ErrorOf([&] { original->Barrier(); }),
            "collective Barrier on a moved-from communicator mpi:moved");
}

TEST(NcclFactoryTest, WithoutCudaSaysHowToGetIt) {
#ifndef PG_WITH_CUDA
  EXPECT_EQ(ErrorOf([] { MakeNcclCommunicator(MPI_COMM_WORLD, 0, nullptr); }),
            "cannot create the NCCL communicator 'tp': this build has no CUDA/NCCL: rebuild with "
            "-DPG_WITH_CUDA=ON or use --backend cpu");
#else
  GTEST_SKIP() << "CUDA build: the NCCL factory is exercised by dist_nccl_mpitest on a GPU";
#endif
}

}  // namespace
}  // namespace pg
