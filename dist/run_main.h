// The MPI-aware main: one failing rank brings the whole job down within seconds.
//
//   int main(int argc, char** argv) {
//     return pg::RunMpiMain(argc, argv, [](int argc, char** argv) { return RunCli(argc, argv); });
//   }
//
// - MPI_Init_thread(MPI_THREAD_FUNNELED): only the main thread calls MPI.
// - body returns normally: MPI_Finalize, return its exit code.
// - body throws an AgreedError over all of MPI_COMM_WORLD (every rank has the same error):
//   every rank prints "[rank R] error: <what>", they meet at a barrier (deadline
//   min(collective timeout, 60 s)) so every line is out, MPI_Finalize, return 1.
// - body throws Interrupted (dist/interrupt.h; thrown on every rank after they agreed to stop
//   on SIGINT/SIGTERM): MPI_Finalize, return 128 + signal.
// - body throws anything else: "[rank R] error: <what>" once, then MPI_Abort(MPI_COMM_WORLD, 1)
//   with the second-stage _exit watchdog (dist/abort.h).
#pragma once

#include <functional>

namespace pg {

int RunMpiMain(int argc, char** argv, const std::function<int(int, char**)>& body);

}  // namespace pg
