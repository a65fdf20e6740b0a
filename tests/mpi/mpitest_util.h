// Tiny harness for multi-rank test programs run under mpirun (nccl-tests style): each rank
// counts its own failed checks, then the counts are summed over MPI_COMM_WORLD with a plain
// MPI_Allreduce (independent of the code under test), so pass/fail is agreed by all ranks.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>

namespace pg_mpitest {

inline int64_t& LocalFailures() {
  static int64_t failures = 0;
  return failures;
}

inline int WorldRank() {
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

inline int WorldSize() {
  int size = -1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

inline void RecordFailure(const char* file, int line, const std::string& what) {
  ++LocalFailures();
  std::fprintf(stderr, "[rank %d] FAIL %s:%d: %s\n", WorldRank(), file, line, what.c_str());
  std::fflush(stderr);
}

// Sums failures over the world; every rank returns the same exit code (0 = all passed).
inline int AgreeOnResult(const std::string& test_name) {
  int64_t local = LocalFailures(), total = 0;
  MPI_Allreduce(&local, &total, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (WorldRank() == 0) {
    std::printf("%s %s on %d ranks (%lld failed checks)\n", total == 0 ? "PASS" : "FAIL",
                test_name.c_str(), WorldSize(), static_cast<long long>(total));
    std::fflush(stdout);
  }
  return total == 0 ? 0 : 1;
}

}  // namespace pg_mpitest

#define MPITEST_CHECK(cond, msg_stream)                                          \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::ostringstream mpitest_os_;                                            \
      mpitest_os_ << #cond << ": " << msg_stream;                                \
      ::pg_mpitest::RecordFailure(__FILE__, __LINE__, mpitest_os_.str());        \
    }                                                                            \
  } while (0)

#define MPITEST_CHECK_EQ(actual, expected) \
  MPITEST_CHECK((actual) == (expected), "got " << (actual) << ", expected " << (expected))
