#include "dist/error_agreement.h"

#include <cstdint>
#include <cstdlib>
#include <limits>

#include "dist/abort.h"

namespace pg {
namespace {

// PG_DEBUG_FAIL_PHASE=<phase>:<world_rank>: that rank fails that phase (reliability tests).
bool InjectedFailure(const std::string& phase) {
  const char* env = std::getenv("PG_DEBUG_FAIL_PHASE");
  if (env == nullptr) return false;
  const std::string spec = env;
  const size_t colon = spec.rfind(':');
  if (colon == std::string::npos || spec.substr(0, colon) != phase) return false;
  return spec.substr(colon + 1) == std::to_string(WorldRankForLogs());
}

}  // namespace

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
    PG_CHECK(!InjectedFailure(phase), "injected failure (PG_DEBUG_FAIL_PHASE) in phase '"
                                          << phase << "'");
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

}  // namespace pg
