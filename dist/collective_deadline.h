// Deadlines for collective waits (nccl-tests / FasterTransformer style hang safety): every
// wait polls for completion with a short backoff until it is done or its deadline expires.
//
//   Timeout: SetDefaultCollectiveTimeoutSeconds() (code, e.g. a CLI flag) > env
//            PG_COLLECTIVE_TIMEOUT_S > 300 s. Read when a communicator is created;
//            Communicator::SetCollectiveTimeout changes an existing one.
//   Debug:   PG_DEBUG_STALL_BEFORE_OP=<world_rank>:<seq>[:<communicator name>] makes that rank
//            block forever before issuing collective #seq (of the named communicator, or of any),
//            so tests can check that the other ranks' deadlines fire and name the op.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace pg {

constexpr double kDefaultCollectiveTimeoutSeconds = 300.0;

// Throws pg::Error naming PG_COLLECTIVE_TIMEOUT_S if it is set but not a positive number.
double DefaultCollectiveTimeoutSeconds();
// 0 clears the override (back to the environment / 300 s); other values must be positive.
void SetDefaultCollectiveTimeoutSeconds(double seconds);
// Throws pg::Error if `seconds` is not a positive finite number; `what` names the caller.
void CheckTimeoutSeconds(double seconds, const std::string& what);

// Spins briefly (yielding the CPU, ranks may be oversubscribed), then sleeps with exponential
// backoff from 10 us up to 500 us between polls.
class PollBackoff {
 public:
  void Pause() {
    if (polls_++ < 200) {
      std::this_thread::yield();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
    if (sleep_us_ < 500) sleep_us_ *= 2;
  }

 private:
  int polls_ = 0;
  int sleep_us_ = 10;
};

// Calls done() until it returns true (-> true) or `timeout_s` has passed (-> false).
template <class Done>
bool PollUntil(Done&& done, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeout_s));
  PollBackoff backoff;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    backoff.Pause();
  }
}

// Logs "[rank R] collective <op> #<seq> timed out after T s on <communicator>", runs
// `before_abort` (e.g. ncclCommAbort) under the hard-exit watchdog, then aborts the job.
[[noreturn]] void CollectiveTimedOut(const char* op, uint64_t seq, double timeout_s,
                                     const std::string& communicator,
                                     const std::function<void()>& before_abort = {});

// The PG_DEBUG_STALL_BEFORE_OP hook; call before issuing collective `seq`.
void MaybeStallBeforeOp(const char* op, uint64_t seq, const std::string& communicator);

}  // namespace pg
