// CollectiveWatchdog: deadlines and asynchronous errors of enqueued collectives, watched by a
// thread instead of a host wait (as PyTorch's ProcessGroupNCCL watchdog). The NCCL communicator
// enqueues a collective on the compute stream, records an event after it, hands the watchdog
// `done` (cudaEventQuery on that event) and returns at once; the watchdog thread polls, every
// poll interval:
//   1. hooks.async_error() (ncclCommGetAsyncError): non-empty -> hooks.fail(why) naming the
//      oldest unfinished collective (op #seq) and the communicator;
//   2. the tracked collectives in enqueue order (the stream completes them in that order):
//      done() pops them;
//   3. the oldest one past its deadline -> hooks.fail("... timed out
//      after T s ...").
// fail() is called at most once (the real one, ncclCommAbort + job abort, does not return);
// afterwards the watchdog stops polling and Track throws. Plain C++ (no CUDA): the hooks make it
// unit-testable with a fake communicator (tests/collective_watchdog_test.cc).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace pg {

struct CollectiveWatchdogHooks {
  std::function<std::string()> async_error;       // "" = no error (watchdog thread)
  std::function<void(const std::string&)> fail;   // error or timeout: abort (watchdog thread)
  std::function<void()> on_start;                 // optional, first on the thread (cudaSetDevice)
};

class CollectiveWatchdog {
 public:
  // communicator: its description for messages; timeout_s: per collective, counted from when it
  // is the oldest pending one (its enqueue time, or the completion of the one before it), so the
  // compute queued ahead of a collective does not count against its deadline.
  CollectiveWatchdog(std::string communicator, double timeout_s, CollectiveWatchdogHooks hooks,
                     std::chrono::microseconds poll = std::chrono::microseconds(1000));
  ~CollectiveWatchdog();  // stops and joins the thread (pending collectives are not waited for)
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Collective `op` #seq was enqueued; done() says whether it has completed (called only from
  // the watchdog thread, until it returns true). Throws pg::Error after a failure.
  void Track(const char* op, uint64_t seq, std::function<bool()> done);
  // Collectives enqueued and not yet seen done.
  size_t pending() const;
  // Blocks until at most `n` are pending (the enqueuer's bound on events in flight), or the
  // watchdog has failed (then throws pg::Error).
  void WaitForPendingAtMost(size_t n);
  void SetTimeout(double seconds);
  bool failed() const;

 private:
  struct Entry {
    const char* op;
    uint64_t seq;
    std::function<bool()> done;
    std::chrono::steady_clock::time_point deadline;  // reset when the entry becomes the oldest
    std::chrono::steady_clock::duration timeout;
  };
  void Run();
  // One poll (mu_ held); returns the failure message, or "".
  std::string PollLocked();

  const std::string communicator_;
  CollectiveWatchdogHooks hooks_;
  const std::chrono::microseconds poll_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // pending_ shrank, failure, or stop
  std::deque<Entry> pending_;
  double timeout_s_;
  bool stop_ = false;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace pg
