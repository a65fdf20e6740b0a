#include "bench/timed_communicator.h"

#include <mpi.h>

#include <cstdlib>

namespace pg {
namespace {

// Adds one call of `bytes` to `s`, timed around `call`.
template <typename Call>
auto Timed(OpStats& s, size_t bytes, Call call) {
  struct Record {
    OpStats& s;
    double t0;
    ~Record() {
      s.seconds += MPI_Wtime() - t0;
      ++s.calls;
    }
  };
  s.bytes += static_cast<int64_t>(bytes);
  Record r{s, MPI_Wtime()};
  return call();
}

}  // namespace

OpStats operator-(const OpStats& a, const OpStats& b) {
  return OpStats{a.calls - b.calls, a.bytes - b.bytes, a.seconds - b.seconds};
}

CommStats operator-(const CommStats& a, const CommStats& b) {
  return CommStats{a.all_reduce - b.all_reduce, a.broadcast - b.broadcast, a.all_gather - b.all_gather,
                   a.control - b.control};
}

OpStats CommStats::total() const {
  OpStats t;
  for (const OpStats* s : {&all_reduce, &broadcast, &all_gather, &control}) {
    t.calls += s->calls;
    t.bytes += s->bytes;
    t.seconds += s->seconds;
  }
  return t;
}

void TimedCommunicator::AllReduceSum(float* buf, size_t count) {
  Timed(stats_.all_reduce, count * sizeof(float), [&] { inner_.AllReduceSum(buf, count); });
}

void TimedCommunicator::AllReduceSumBf16(void* buf, size_t count) {
  Timed(stats_.all_reduce, count * 2, [&] { inner_.AllReduceSumBf16(buf, count); });
}

void TimedCommunicator::Broadcast(void* buf, size_t bytes, int root) {
  Timed(stats_.broadcast, bytes, [&] { inner_.Broadcast(buf, bytes, root); });
}

void TimedCommunicator::BroadcastHost(void* buf, size_t bytes, int root) {
  Timed(stats_.broadcast, bytes, [&] { inner_.BroadcastHost(buf, bytes, root); });
}

void TimedCommunicator::AllGather(const float* send, float* recv, size_t count_per_rank) {
  Timed(stats_.all_gather, count_per_rank * sizeof(float), [&] { inner_.AllGather(send, recv, count_per_rank); });
}

void TimedCommunicator::Barrier() {
  Timed(stats_.control, 0, [&] { inner_.Barrier(); });
}

int64_t TimedCommunicator::AllReduceMaxInt64(int64_t value) {
  return Timed(stats_.control, sizeof(int64_t), [&] { return inner_.AllReduceMaxInt64(value); });
}

int64_t TimedCommunicator::AllReduceMinInt64(int64_t value) {
  return Timed(stats_.control, sizeof(int64_t), [&] { return inner_.AllReduceMinInt64(value); });
}

int64_t TimedCommunicator::AllReduceSumInt64(int64_t value) {
  return Timed(stats_.control, sizeof(int64_t), [&] { return inner_.AllReduceSumInt64(value); });
}

void TimedCommunicator::Abort(const std::string& reason) {
  inner_.Abort(reason);
  std::abort();  // not reached: Abort never returns
}

}  // namespace pg
