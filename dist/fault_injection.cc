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
  FaultSpec s;
  std::string rest = text;
  const auto take_last = [&rest](long* out) {
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return false;
    char* end = nullptr;
    const std::string field = rest.substr(colon + 1);
    const long v = std::strtol(field.c_str(), &end, 10);
    if (field.empty() || *end != '\0' || v < 0) return false;
    *out = v;
    rest.resize(colon);
    return true;
  };
  long a = 0, b = 0;
  PG_CHECK(take_last(&a), "PG_DEBUG_FAIL_PHASE='" << text << "': expected <point>:<world_rank>[:<nth>]");
  if (rest.find(':') != std::string::npos && take_last(&b)) {
    s.rank = static_cast<int>(b);
    s.nth = a;
  } else {
    s.rank = static_cast<int>(a);
  }
  s.point = rest;
  PG_CHECK(!s.point.empty() && s.nth >= 1,
           "PG_DEBUG_FAIL_PHASE='" << text << "': expected <point>:<world_rank>[:<nth>] with nth >= 1");
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
