#include "dist/collective_deadline.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "dist/abort.h"
#include "runtime/check.h"

namespace pg {
namespace {

std::atomic<double> g_timeout_override{0.0};

struct StallSpec {
  bool active = false;
  int rank = -1;
  uint64_t seq = 0;
  std::string communicator;  // empty = any
};

StallSpec ParseStallSpec() {
  StallSpec spec;
  const char* env = std::getenv("PG_DEBUG_STALL_BEFORE_OP");
  if (env == nullptr || *env == '\0') return spec;
  const std::string text = env;
  const size_t c1 = text.find(':');
  PG_CHECK(c1 != std::string::npos,
           "PG_DEBUG_STALL_BEFORE_OP='" << text << "': expected <world_rank>:<seq>[:<communicator>]");
  const size_t c2 = text.find(':', c1 + 1);
  try {
    spec.rank = std::stoi(text.substr(0, c1));
    spec.seq = std::stoull(text.substr(c1 + 1, c2 == std::string::npos ? std::string::npos
                                                                          : c2 - c1 - 1));
  } catch (const std::exception&) {
    PG_THROW("PG_DEBUG_STALL_BEFORE_OP='" << text
                                          << "': expected <world_rank>:<seq>[:<communicator>]");
  }
  if (c2 != std::string::npos) spec.communicator = text.substr(c2 + 1);
  spec.active = true;
  return spec;
}

}  // namespace

void CheckTimeoutSeconds(double seconds, const std::string& what) {
  PG_CHECK(std::isfinite(seconds) && seconds > 0,
           what << ": collective timeout must be a positive number of seconds, got " << seconds);
}

double DefaultCollectiveTimeoutSeconds() {
  const double override_s = g_timeout_override.load();
  if (override_s > 0) return override_s;
  const char* env = std::getenv("PG_COLLECTIVE_TIMEOUT_S");
  if (env == nullptr || *env == '\0') return kDefaultCollectiveTimeoutSeconds;
  char* end = nullptr;
  const double value = std::strtod(env, &end);
  PG_CHECK(end != env && *end == '\0' && std::isfinite(value) && value > 0,
           "environment variable PG_COLLECTIVE_TIMEOUT_S='"
               << env << "' is not a positive number of seconds");
  return value;
}

void SetDefaultCollectiveTimeoutSeconds(double seconds) {
  if (seconds != 0) CheckTimeoutSeconds(seconds, "SetDefaultCollectiveTimeoutSeconds");
  g_timeout_override.store(seconds);
}

void CollectiveTimedOut(const char* op, uint64_t seq, double timeout_s,
                        const std::string& communicator,
                        const std::function<void()>& before_abort) {
  std::ostringstream os;
  os << RankTag() << " collective " << op << " #" << seq << " timed out after " << timeout_s
     << " s on communicator " << communicator
     << "; another rank is stuck, dead or issued different collectives; aborting the job";
  WriteStderrLine(os.str());
  if (before_abort) {
    StartHardExitWatchdog(AbortGraceSeconds());
    before_abort();
  }
  HardAbort(1);
}

void MaybeStallBeforeOp(const char* op, uint64_t seq, const std::string& communicator) {
  static const StallSpec spec = ParseStallSpec();
  if (!spec.active || spec.seq != seq || spec.rank != WorldRankForLogs()) return;
  if (!spec.communicator.empty() && spec.communicator != communicator) return;
  std::ostringstream os;
  os << RankTag() << " debug: PG_DEBUG_STALL_BEFORE_OP: stalling before collective " << op
     << " #" << seq << " on " << communicator;
  WriteStderrLine(os.str());
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace pg
