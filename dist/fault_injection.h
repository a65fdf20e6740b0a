// Debug fault injection for the reliability tests: makes one rank throw at a named point.
//
//   PG_DEBUG_FAIL_PHASE=<point>:<world_rank>[:<nth>]
//
// FaultPoint("caption step") throws pg::Error("injected failure (PG_DEBUG_FAIL_PHASE) at
// 'caption step' #<nth>") on that world rank the nth time (default 1st) it reaches that point;
// everywhere else, and when the variable is unset, it does nothing. Points: every AgreePhase
// name (dist/error_agreement.h, e.g. "load weights") and the caption job's "caption vit",
// "caption step" (prefill + decode of one engine step) and "caption record" (leader appends).
#pragma once

namespace pg {

void FaultPoint(const char* point);

}  // namespace pg
