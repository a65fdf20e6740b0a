// CollectiveWatchdog (dist/collective_watchdog.h) against a fake communicator: collectives
// complete when the test says so, asynchronous errors appear when the test sets one. The real
// hooks (cudaEventQuery, ncclCommGetAsyncError, ncclCommAbort) are in dist/cuda/nccl_communicator.cc.
#include "dist/collective_watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/check.h"

namespace pg {
namespace {

using namespace std::chrono_literals;

// The fake: a done flag per collective, an async error string, and what fail() was told.
struct FakeComm {
  std::mutex mu;
  std::string error;
  std::vector<std::string> failures;
  std::vector<std::shared_ptr<std::atomic<bool>>> done;
  std::atomic<int> done_queries{0};

  CollectiveWatchdogHooks Hooks() {
    return {[this] {
              std::lock_guard<std::mutex> lock(mu);
              return error;
            },
            [this](const std::string& why) {
              std::lock_guard<std::mutex> lock(mu);
              failures.push_back(why);
            }};
  }
  // Tracks a new collective; returns its index.
  size_t Enqueue(CollectiveWatchdog& w, const char* op, uint64_t seq) {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    done.push_back(flag);
    w.Track(op, seq, [this, flag] {
      ++done_queries;
      return flag->load();
    });
    return done.size() - 1;
  }
  size_t failure_count() {
    std::lock_guard<std::mutex> lock(mu);
    return failures.size();
  }
  std::string failure(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    return failures.at(i);
  }
};

// Waits (up to 5 s) for cond.
template <class Cond>
bool Eventually(Cond cond) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return cond();
}

TEST(CollectiveWatchdog, CompletedCollectivesArePoppedInOrderWithoutFailure) {
  FakeComm fake;
  CollectiveWatchdog w("nccl:tp (fake)", 2.0, fake.Hooks(), 200us);
  fake.Enqueue(w, "AllReduceSum", 1);
  fake.Enqueue(w, "AllReduceSum", 2);
  fake.Enqueue(w, "AllGather", 3);
  EXPECT_EQ(w.pending(), 3u);
  *fake.done[1] = true;  // #2 done before #1: the stream completes in order, so #2 waits behind #1
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(w.pending(), 3u);
  *fake.done[0] = true;
  EXPECT_TRUE(Eventually([&] { return w.pending() == 1; }));
  *fake.done[2] = true;
  w.WaitForPendingAtMost(0);
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_EQ(fake.failure_count(), 0u);
  EXPECT_FALSE(w.failed());
}

TEST(CollectiveWatchdog, AStuckCollectiveFailsAtItsDeadlineNamingIt) {
  FakeComm fake;
  const auto start = std::chrono::steady_clock::now();
  CollectiveWatchdog w("nccl:tp (rank 1 of 2, device 0)", 0.15, fake.Hooks(), 500us);
  fake.Enqueue(w, "AllReduceSum", 1);
  *fake.done[0] = true;
  fake.Enqueue(w, "Broadcast", 2);  // never completes
  ASSERT_TRUE(Eventually([&] { return fake.failure_count() == 1; }));
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 0.15);
  const std::string why = fake.failure(0);
  EXPECT_NE(why.find("collective Broadcast #2 timed out after 0.15 s"), std::string::npos) << why;
  EXPECT_NE(why.find("nccl:tp (rank 1 of 2, device 0)"), std::string::npos) << why;
  EXPECT_TRUE(w.failed());
  EXPECT_THROW(fake.Enqueue(w, "AllReduceSum", 3), Error);
  EXPECT_THROW(w.WaitForPendingAtMost(0), Error);  // does not hang on a failed communicator
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(fake.failure_count(), 1u) << "fail() is called once";
}

TEST(CollectiveWatchdog, DeadlineCountsFromEnqueueNotFromTheFirstCollective) {
  FakeComm fake;
  // 5 x 0.5 s > the 2 s timeout, each collective done within 0.5 s of its enqueue (a loaded
  // machine has 1.5 s of slack).
  CollectiveWatchdog w("nccl:tp", 2.0, fake.Hooks(), 500us);
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    const size_t i = fake.Enqueue(w, "AllReduceSum", seq);
    std::this_thread::sleep_for(500ms);
    *fake.done[i] = true;
  }
  w.WaitForPendingAtMost(0);
  EXPECT_EQ(fake.failure_count(), 0u) << fake.failure(0);
}

TEST(CollectiveWatchdog, AsyncErrorFailsAtOnceNamingTheOldestCollective) {
  FakeComm fake;
  CollectiveWatchdog w("nccl:tp", 60.0, fake.Hooks(), 500us);
  fake.Enqueue(w, "AllGather", 7);
  {
    std::lock_guard<std::mutex> lock(fake.mu);
    fake.error = "remote process exited or there was a network error";
  }
  ASSERT_TRUE(Eventually([&] { return fake.failure_count() == 1; }));
  const std::string why = fake.failure(0);
  EXPECT_NE(why.find("during collective AllGather #7"), std::string::npos) << why;
  EXPECT_NE(why.find("network error"), std::string::npos) << why;
}

TEST(CollectiveWatchdog, IdleWatchdogPollsAsyncErrorsAndStopsPromptly) {
  FakeComm fake;
  auto w = std::make_unique<CollectiveWatchdog>("nccl:tp", 60.0, fake.Hooks(), 500us);
  {
    std::lock_guard<std::mutex> lock(fake.mu);
    fake.error = "ncclSystemError";
  }
  ASSERT_TRUE(Eventually([&] { return fake.failure_count() == 1; }));  // no collective pending
  const auto start = std::chrono::steady_clock::now();
  w.reset();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);
}

TEST(CollectiveWatchdog, RejectsBadTimeouts) {
  FakeComm fake;
  EXPECT_THROW(CollectiveWatchdog("nccl:tp", 0.0, fake.Hooks()), Error);
  CollectiveWatchdog w("nccl:tp", 1.0, fake.Hooks());
  EXPECT_THROW(w.SetTimeout(-1), Error);
}

}  // namespace
}  // namespace pg
