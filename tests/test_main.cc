// GoogleTest main shared by every unit-test executable. MPI is initialised once so
// that tests of MPI-aware code can run as a single rank (or under mpirun).
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rc = RUN_ALL_TESTS();
  MPI_Finalize();
  return rc;
}
