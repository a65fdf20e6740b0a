// TimedCommunicator (bench/timed_communicator.h): forwards every call unchanged and adds up
// calls, payload bytes and seconds per kind of operation.
#include "bench/timed_communicator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "dist/mpi_communicator.h"

namespace pg {
namespace {

// A one-rank communicator that marks what it was asked to do and takes `delay` per data call.
class FakeCommunicator final : public Communicator {
 public:
  explicit FakeCommunicator(double delay_s) : delay_s_(delay_s) {}
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "fake"; }
  MemorySpace buffer_space() const override { return MemorySpace::kHost; }
  void AllReduceSum(float* buf, size_t count) override {
    Sleep();
    for (size_t i = 0; i < count; ++i) buf[i] += 1.f;
  }
  void AllReduceSumBf16(void*, size_t) override { Sleep(); }
  void Broadcast(void* buf, size_t bytes, int) override {
    Sleep();
    if (bytes) static_cast<char*>(buf)[0] = 'b';
  }
  void AllGather(const float* send, float* recv, size_t n) override {
    Sleep();
    std::copy(send, send + n, recv);
  }
  void Barrier() override { ++barriers; }
  int64_t AllReduceMaxInt64(int64_t v) override { return v + 1; }
  int64_t AllReduceMinInt64(int64_t v) override { return v - 1; }
  int64_t AllReduceSumInt64(int64_t v) override { return 2 * v; }
  void BroadcastHost(void* buf, size_t bytes, int root) override { Broadcast(buf, bytes, root); }
  std::unique_ptr<Communicator> Split(int, int) override { return std::make_unique<FakeCommunicator>(0); }
  void SetCollectiveTimeout(double s) override { timeout = s; }
  double collective_timeout() const override { return timeout; }
  uint64_t last_sequence() const override { return 17; }
  [[noreturn]] void Abort(const std::string&) override { std::abort(); }

  int barriers = 0;
  double timeout = 1;

 private:
  void Sleep() const { std::this_thread::sleep_for(std::chrono::duration<double>(delay_s_)); }
  double delay_s_;
};

TEST(TimedCommunicator, ForwardsAndCountsEachKind) {
  FakeCommunicator fake(0.002);
  TimedCommunicator t(fake);
  std::vector<float> x(10, 1.f);
  t.AllReduceSum(x.data(), x.size());
  EXPECT_EQ(x[9], 2.f);
  uint16_t h[3] = {0, 0, 0};
  t.AllReduceSumBf16(h, 3);
  char c[5] = {0};
  t.Broadcast(c, 5, 0);
  EXPECT_EQ(c[0], 'b');
  t.BroadcastHost(c, 4, 0);
  std::vector<float> g(10);
  t.AllGather(x.data(), g.data(), 10);
  EXPECT_EQ(g[3], 2.f);
  t.Barrier();
  EXPECT_EQ(fake.barriers, 1);
  EXPECT_EQ(t.AllReduceMaxInt64(5), 6);
  EXPECT_EQ(t.AllReduceMinInt64(5), 4);
  EXPECT_EQ(t.AllReduceSumInt64(5), 10);
  t.SetCollectiveTimeout(9);
  EXPECT_EQ(t.collective_timeout(), 9);
  EXPECT_EQ(t.last_sequence(), 17u);
  EXPECT_EQ(t.name(), "timed:fake");

  const CommStats& s = t.stats();
  EXPECT_EQ(s.all_reduce.calls, 2);
  EXPECT_EQ(s.all_reduce.bytes, 10 * 4 + 3 * 2);
  EXPECT_GE(s.all_reduce.seconds, 0.004);
  EXPECT_EQ(s.broadcast.calls, 2);
  EXPECT_EQ(s.broadcast.bytes, 9);
  EXPECT_GE(s.broadcast.seconds, 0.004);
  EXPECT_EQ(s.all_gather.calls, 1);
  EXPECT_EQ(s.all_gather.bytes, 40);
  EXPECT_EQ(s.control.calls, 4);
  EXPECT_LT(s.control.seconds, s.all_gather.seconds);
  EXPECT_EQ(s.total().calls, 9);

  const CommStats before = t.stats();
  t.AllReduceSum(x.data(), 2);
  const CommStats d = t.stats() - before;
  EXPECT_EQ(d.all_reduce.calls, 1);
  EXPECT_EQ(d.all_reduce.bytes, 8);
  EXPECT_EQ(d.broadcast.calls, 0);
  t.ResetStats();
  EXPECT_EQ(t.stats().total().calls, 0);
}

TEST(TimedCommunicator, WrapsTheMpiCommunicator) {
  std::unique_ptr<MpiCommunicator> world = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  TimedCommunicator t(*world);
  EXPECT_EQ(t.size(), world->size());
  EXPECT_EQ(t.rank(), world->rank());
  std::vector<float> x(100, 1.f);
  t.AllReduceSum(x.data(), x.size());
  EXPECT_EQ(x[0], static_cast<float>(world->size()));
  EXPECT_EQ(t.stats().all_reduce.calls, 1);
  EXPECT_EQ(t.stats().all_reduce.bytes, 400);
  EXPECT_GE(t.stats().all_reduce.seconds, 0.0);
  EXPECT_EQ(t.last_sequence(), world->last_sequence());
}

}  // namespace
}  // namespace pg
