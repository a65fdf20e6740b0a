// Agreeing on errors at phase boundaries, so that a failure on one rank makes every rank of
// the group stop with the same message instead of leaving the others in the next collective.
//
//   AgreePhase(world.world(), "load weights", [&] { weights = LoadShard(...); });
//   // -> on every rank, if any rank threw:
//   //    AgreedError("phase 'load weights' failed on rank 2: tensor 'x' in f.h5 has shape ...")
//
// RunMpiMain (dist/run_main.h) prints an AgreedError that spans the whole world on every rank
// and exits non-zero without MPI_Abort; any other error aborts the job.
#pragma once

#include <functional>
#include <string>

#include "dist/communicator.h"
#include "runtime/check.h"

namespace pg {

// An error that every rank of a communicator throws with the same message.
class AgreedError : public Error {
 public:
  AgreedError(const char* file, int line, const std::string& msg, bool world_wide)
      : Error(file, line, msg), world_wide_(world_wide) {}
  // True when the agreeing group was all of MPI_COMM_WORLD.
  bool world_wide() const { return world_wide_; }

 private:
  bool world_wide_;
};

// Collective over `comm`. Returns the error of the lowest rank whose `local_error` is not
// empty, on every rank ("" if no rank failed). *failing_rank (if given) gets that rank in
// `comm`, or -1.
std::string AgreeOnError(Communicator& comm, const std::string& local_error,
                         int* failing_rank = nullptr);

// Runs `body`, catching any exception, then agrees on errors over `comm`. If any rank failed,
// every rank throws AgreedError("phase '<phase>' failed on rank <world rank>: <message>").
// Debug hook: PG_DEBUG_FAIL_PHASE=<phase>:<world_rank> makes that rank fail that phase before
// running `body`, to test that every rank stops with the same message (dist/fault_injection.h).
void AgreePhase(Communicator& comm, const std::string& phase, const std::function<void()>& body);

// For checks that see the same inputs on every rank of MPI_COMM_WORLD (command-line flags,
// before any communicator exists): runs `check` and rethrows its pg::Error as a world-wide
// AgreedError without communicating, so that every rank prints the same message and exits
// non-zero without MPI_Abort. If some rank did not fail after all, RunMpiMain's final barrier
// (which has a deadline) turns that into an abort rather than a hang.
void CheckSameOnEveryRank(const std::function<void()>& check);

}  // namespace pg
