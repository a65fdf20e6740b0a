// MpiCommunicator: Communicator over an MPI communicator it owns (a duplicate or a split),
// host buffers. Every collective is non-blocking (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather,
// MPI_Ibarrier) and polled with MPI_Test under the collective deadline (collective_deadline.h).
// The owned MPI_Comm uses MPI_ERRORS_RETURN: MPI errors become pg::Error with MPI's message.
//
//   auto world = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
//   world->AllReduceSum(x.data(), x.size());  // x: [n] host floats
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "dist/communicator.h"

namespace pg {

// Throws pg::Error "<what> failed: <MPI error string>" unless rc == MPI_SUCCESS.
void CheckMpi(int rc, const std::string& what);

class MpiCommunicator final : public Communicator {
 public:
  // Duplicates `comm` (MPI_Comm_idup, under the deadline) and owns the duplicate, so our
  // collectives never match anyone else's. Collective over `comm`. `label` names it in logs.
  static std::unique_ptr<MpiCommunicator> Duplicate(MPI_Comm comm, const std::string& label);

  ~MpiCommunicator() override;
  MpiCommunicator(MpiCommunicator&& other) noexcept;
  MpiCommunicator& operator=(MpiCommunicator&& other) noexcept;

  // The owned communicator (e.g. to bootstrap NCCL over the same group). Do not free it.
  MPI_Comm comm() const { return comm_; }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi:" + label_; }
  MemorySpace buffer_space() const override { return MemorySpace::kHost; }

  void AllReduceSum(float* buf, size_t count) override;
  void AllReduceSumBf16(void* buf, size_t count) override;
  void Broadcast(void* buf, size_t bytes, int root) override;
  void AllGather(const float* send, float* recv, size_t count_per_rank) override;

  void Barrier() override;
  int64_t AllReduceMaxInt64(int64_t value) override;
  int64_t AllReduceMinInt64(int64_t value) override;
  int64_t AllReduceSumInt64(int64_t value) override;
  void BroadcastHost(void* buf, size_t bytes, int root) override { Broadcast(buf, bytes, root); }

  std::unique_ptr<Communicator> Split(int color, int key) override;
  // Split with a label for the child ("tp", "dp"); same semantics as Split.
  std::unique_ptr<MpiCommunicator> SplitMpi(int color, int key, const std::string& label);
  // Sub-communicator of the ranks sharing memory with this one (one per host), under the
  // deadline (an MPI_Ibarrier precedes the blocking MPI_Comm_split_type).
  std::unique_ptr<MpiCommunicator> SplitSharedMemory(const std::string& label);

  void SetCollectiveTimeout(double seconds) override;
  double collective_timeout() const override { return timeout_s_; }
  uint64_t last_sequence() const override { return seq_; }

  [[noreturn]] void Abort(const std::string& reason) override;

 private:
  MpiCommunicator(MPI_Comm owned, std::string label, double timeout_s);
  // Takes the next sequence number (and honours the debug stall hook).
  uint64_t BeginOp(const char* op);
  // Polls `request` to completion; aborts the job with a timeout message at the deadline.
  void Wait(MPI_Request* request, const char* op, uint64_t seq);
  int64_t ReduceInt64(int64_t value, MPI_Op mpi_op, const char* op);
  std::string Describe() const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::string label_;
  int rank_ = 0;
  int size_ = 0;
  double timeout_s_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace pg
