// TimedCommunicator: a Communicator decorator that forwards every call to the communicator it
// wraps and adds up, per kind of operation, the calls, the payload bytes and the wall time
// (MPI_Wtime) spent inside. `paligemma bench` hands it to the model as the tensor-parallel
// communicator, so the model code is measured unchanged.
//
//   TimedCommunicator timed(world.tp_group());
//   TpGroup tp{&timed, rank, size};
//   CommStats before = timed.stats();  ...  CommStats spent = timed.stats() - before;
//   spent.all_reduce.seconds   // time inside AllReduceSum / AllReduceSumBf16
//
// The time of a collective includes waiting for the slowest rank to arrive (as any measurement
// of a blocking collective does); the bench separates phases with barriers to keep that small.
// Not thread-safe (nor is the communicator it wraps). Split() returns an untimed child.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dist/communicator.h"

namespace pg {

struct OpStats {
  int64_t calls = 0;
  int64_t bytes = 0;  // payload per call (the buffer given), summed
  double seconds = 0;
};

struct CommStats {
  OpStats all_reduce;  // AllReduceSum, AllReduceSumBf16 (the row-parallel sums, the embedding)
  OpStats broadcast;   // Broadcast, BroadcastHost (image tokens, sampled tokens)
  OpStats all_gather;  // AllGather (vocabulary-parallel logits, sharded ViT)
  OpStats control;     // Barrier, *Int64 reductions

  OpStats total() const;
};

OpStats operator-(const OpStats& a, const OpStats& b);
CommStats operator-(const CommStats& a, const CommStats& b);

class TimedCommunicator final : public Communicator {
 public:
  explicit TimedCommunicator(Communicator& inner) : inner_(inner) {}

  const CommStats& stats() const { return stats_; }
  void ResetStats() { stats_ = CommStats{}; }
  Communicator& inner() { return inner_; }

  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  std::string name() const override { return "timed:" + inner_.name(); }
  MemorySpace buffer_space() const override { return inner_.buffer_space(); }

  void AllReduceSum(float* buf, size_t count) override;
  void AllReduceSumBf16(void* buf, size_t count) override;
  void Broadcast(void* buf, size_t bytes, int root) override;
  void AllGather(const float* send, float* recv, size_t count_per_rank) override;

  void Barrier() override;
  int64_t AllReduceMaxInt64(int64_t value) override;
  int64_t AllReduceMinInt64(int64_t value) override;
  int64_t AllReduceSumInt64(int64_t value) override;
  void BroadcastHost(void* buf, size_t bytes, int root) override;

  std::unique_ptr<Communicator> Split(int color, int key) override { return inner_.Split(color, key); }
  void SetCollectiveTimeout(double seconds) override { inner_.SetCollectiveTimeout(seconds); }
  double collective_timeout() const override { return inner_.collective_timeout(); }
  uint64_t last_sequence() const override { return inner_.last_sequence(); }
  [[noreturn]] void Abort(const std::string& reason) override;

 private:
  Communicator& inner_;
  CommStats stats_;
};

}  // namespace pg
