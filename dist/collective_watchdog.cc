#include "dist/collective_watchdog.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "dist/collective_deadline.h"
#include "runtime/check.h"

namespace pg {

CollectiveWatchdog::CollectiveWatchdog(std::string communicator, double timeout_s, CollectiveWatchdogHooks hooks,
                                       std::chrono::microseconds poll)
    : communicator_(std::move(communicator)), hooks_(std::move(hooks)), poll_(poll), timeout_s_(timeout_s) {
  CheckTimeoutSeconds(timeout_s, "collective watchdog of " + communicator_);
  PG_CHECK(hooks_.async_error && hooks_.fail, "collective watchdog of " << communicator_ << ": hooks missing");
  thread_ = std::thread([this] { Run(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CollectiveWatchdog::Track(const char* op, uint64_t seq, std::function<bool()> done) {
  std::lock_guard<std::mutex> lock(mu_);
  PG_CHECK(!failed_, "collective " << op << " #" << seq << " on " << communicator_
                                   << ": the communicator's watchdog has already failed it");
  const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_s_));
  pending_.push_back({op, seq, std::move(done), std::chrono::steady_clock::now() + timeout, timeout});
}

size_t CollectiveWatchdog::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

bool CollectiveWatchdog::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void CollectiveWatchdog::SetTimeout(double seconds) {
  CheckTimeoutSeconds(seconds, "collective watchdog of " + communicator_);
  std::lock_guard<std::mutex> lock(mu_);
  timeout_s_ = seconds;  // for collectives tracked from now on
}

void CollectiveWatchdog::WaitForPendingAtMost(size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return pending_.size() <= n || failed_ || stop_; });
  PG_CHECK(!failed_, "collectives on " << communicator_ << ": the communicator's watchdog has failed");
}

std::string CollectiveWatchdog::PollLocked() {
  const std::string error = hooks_.async_error();
  if (!error.empty()) {
    std::ostringstream os;
    os << "NCCL asynchronous error on " << communicator_;
    if (!pending_.empty()) os << " during collective " << pending_.front().op << " #" << pending_.front().seq;
    os << ": " << error;
    return os.str();
  }
  const size_t before = pending_.size();
  while (!pending_.empty() && pending_.front().done()) pending_.pop_front();
  if (pending_.size() != before) {
    cv_.notify_all();
    // The new oldest collective's clock starts now, if not later than its own enqueue + timeout.
    if (!pending_.empty())
      pending_.front().deadline =
          std::max(pending_.front().deadline, std::chrono::steady_clock::now() + pending_.front().timeout);
  }
  if (!pending_.empty() && std::chrono::steady_clock::now() >= pending_.front().deadline) {
    std::ostringstream os;
    os << "collective " << pending_.front().op << " #" << pending_.front().seq << " timed out after " << timeout_s_
       << " s on " << communicator_ << " (" << pending_.size() << " collectives pending; set PG_COLLECTIVE_TIMEOUT_S)";
    return os.str();
  }
  return "";
}

void CollectiveWatchdog::Run() {
  if (hooks_.on_start) hooks_.on_start();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, poll_, [&] { return stop_; });
    if (stop_) break;
    const std::string why = PollLocked();
    if (why.empty()) continue;
    failed_ = true;
    cv_.notify_all();
    lock.unlock();
    hooks_.fail(why);  // the real hook aborts the communicator and the job
    return;
  }
}

}  // namespace pg
