#include "dist/error_agreement.h"

#include <cstdint>
#include <limits>

#include "dist/abort.h"
#include "dist/fault_injection.h"

namespace pg {

std::string AgreeOnError(Communicator& comm, const std::string& local_error, int* failing_rank) {
  constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  const int64_t lowest = comm.AllReduceMinInt64(local_error.empty() ? kNone : comm.rank());
  if (failing_rank != nullptr) *failing_rank = lowest == kNone ? -1 : static_cast<int>(lowest);
  if (lowest == kNone) return "";
  return comm.BroadcastString(local_error, static_cast<int>(lowest));
}

void AgreePhase(Communicator& comm, const std::string& phase, const std::function<void()>& body) {
  std::string local;
  try {
    FaultPoint(phase.c_str());
    body();
  } catch (const std::exception& e) {
    local = "rank " + std::to_string(WorldRankForLogs()) + ": " + e.what();
  } catch (...) {
    local = "rank " + std::to_string(WorldRankForLogs()) + ": unknown exception";
  }
  const std::string agreed = AgreeOnError(comm, local);
  if (agreed.empty()) return;
  throw AgreedError(__FILE__, __LINE__, "phase '" + phase + "' failed on " + agreed,
                    comm.size() == WorldSizeForLogs());
}

void CheckSameOnEveryRank(const std::function<void()>& check) {
  try {
    check();
  } catch (const AgreedError&) {
    throw;
  } catch (const Error& e) {
    throw AgreedError(e.file(), e.line(), e.what(), /*world_wide=*/true);
  }
}

}  // namespace pg
