#include "dist/run_main.h"

#include <mpi.h>

#include <algorithm>
#include <exception>
#include <string>

#include "dist/abort.h"
#include "dist/collective_deadline.h"
#include "dist/error_agreement.h"
#include "dist/interrupt.h"

namespace pg {
namespace {

// Every rank has printed the agreed error; meet so no rank's exit kills a slower one before
// its line is out. A rank that never arrives makes this a hard abort, not a hang.
void MeetAfterAgreedError() {
  double timeout_s = 60.0;
  try {
    timeout_s = std::min(timeout_s, DefaultCollectiveTimeoutSeconds());
  } catch (const std::exception&) {
  }
  MPI_Request request;
  if (MPI_Ibarrier(MPI_COMM_WORLD, &request) != MPI_SUCCESS) HardAbort(1);
  int done = 0;
  const bool ok = PollUntil(
      [&] { return MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || done; },
      timeout_s);
  if (!ok || !done) {
    CollectiveTimedOut("BarrierAfterAgreedError", 0, timeout_s, "MPI_COMM_WORLD");
  }
}

}  // namespace

int RunMpiMain(int argc, char** argv, const std::function<int(int, char**)>& body) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    WriteStderrLine("error: MPI_Init_thread failed");
    return 1;
  }
  int code = 0;
  try {
    code = body(argc, argv);
  } catch (const Interrupted& e) {
    // Every rank agreed to stop on a signal and has kept what was finished.
    code = e.exit_code();
  } catch (const AgreedError& e) {
    WriteStderrLine(RankTag() + " error: " + e.what());
    if (!e.world_wide()) HardAbort(1);
    MeetAfterAgreedError();
    code = 1;
  } catch (const std::exception& e) {
    WriteStderrLine(RankTag() + " error: " + e.what());
    HardAbort(1);
  } catch (...) {
    WriteStderrLine(RankTag() + " error: unknown exception");
    HardAbort(1);
  }
  MPI_Finalize();
  return code;
}

}  // namespace pg
