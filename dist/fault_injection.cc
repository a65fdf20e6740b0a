#include "dist/fault_injection.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "dist/abort.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct FaultSpec {
  std::string point;
  int rank = -1;
  long nth = 1;
};

// Parses "<point>:<rank>[:<nth>]"; the point may contain spaces but no ':'.
FaultSpec ParseSpec(const std::string& text) {
  const char* usage = "': expected <point>:<world_rank>[:<nth>] with nth >= 1";
  FaultSpec s;
  const size_t c1 = text.find(':');
  PG_CHECK(c1 != std::string::npos && c1 > 0, "PG_DEBUG_FAIL_PHASE='" << text << usage);
  const size_t c2 = text.find(':', c1 + 1);
  s.point = text.substr(0, c1);
  try {
    size_t used = 0;
    const std::string rank = text.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
    s.rank = std::stoi(rank, &used);
    PG_CHECK(used == rank.size(), "");
    if (c2 != std::string::npos) {
      const std::string nth = text.substr(c2 + 1);
      s.nth = std::stol(nth, &used);
      PG_CHECK(used == nth.size(), "");
    }
  } catch (const std::exception&) {
    PG_THROW("PG_DEBUG_FAIL_PHASE='" << text << usage);
  }
  PG_CHECK(s.rank >= 0 && s.nth >= 1, "PG_DEBUG_FAIL_PHASE='" << text << usage);
  return s;
}

}  // namespace

void FaultPoint(const char* point) {
  static const char* env = std::getenv("PG_DEBUG_FAIL_PHASE");
  if (env == nullptr) return;
  static const FaultSpec spec = ParseSpec(env);
  static std::atomic<long> seen{0};
  if (spec.rank != WorldRankForLogs() || spec.point != point) return;
  const long n = ++seen;
  PG_CHECK(n != spec.nth, "injected failure (PG_DEBUG_FAIL_PHASE) at '" << point << "' #" << n);
}

}  // namespace pg
