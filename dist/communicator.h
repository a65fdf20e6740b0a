// Communicator: the one collective-communication interface of paligemma-tp
// (STYLE rule 4), implemented by MpiCommunicator (host buffers) and the NCCL
// communicator (device buffers, dist/nccl_communicator.h).
//
// Two planes:
//  - data plane (AllReduceSum, AllReduceSumBf16, Broadcast, AllGather): buffers live in
//    buffer_space(): host memory for MPI, device memory on the communicator's stream for NCCL.
//    Every call returns only when the result is in `buf` (NCCL: the stream is drained).
//  - control plane (Barrier, *Int64, BroadcastHost, BroadcastString): always host memory.
//
// Every wait has a deadline (collective_timeout(), default 300 s, env PG_COLLECTIVE_TIMEOUT_S):
// when it expires the rank logs "[rank R] collective <op> #<seq> timed out after T s ..." and
// aborts the whole MPI job. Each call, on every communicator, takes the next sequence number, so
// the log says which collective hung. All ranks of the group must call the same collectives in
// the same order with the same counts (as in MPI).
//
// Implementations are RAII and move-only; hold them by std::unique_ptr<Communicator>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace pg {

enum class MemorySpace { kHost, kDevice };

class Communicator {
 public:
  Communicator() = default;
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;  // rank within this group
  virtual int size() const = 0;  // ranks in this group
  // "mpi:tp" or "nccl:tp": backend and the label given at creation.
  virtual std::string name() const = 0;
  // Where data-plane buffers must live.
  virtual MemorySpace buffer_space() const = 0;

  // ---- Data plane --------------------------------------------------------------------------
  // buf: [count] float32, summed over the group in place.
  virtual void AllReduceSum(float* buf, size_t count) = 0;
  // buf: [count] bfloat16 words (uint16), summed in place; each partial sum is rounded to bf16
  // (round to nearest even), as NCCL does.
  virtual void AllReduceSumBf16(void* buf, size_t count) = 0;
  // buf: [bytes] copied from `root` to every rank.
  virtual void Broadcast(void* buf, size_t bytes, int root) = 0;
  // send: [count_per_rank] -> recv: [size(), count_per_rank], rank r's block at r * count_per_rank.
  virtual void AllGather(const float* send, float* recv, size_t count_per_rank) = 0;

  // ---- Control plane (host memory) ---------------------------------------------------------
  virtual void Barrier() = 0;
  virtual int64_t AllReduceMaxInt64(int64_t value) = 0;
  virtual int64_t AllReduceMinInt64(int64_t value) = 0;
  virtual int64_t AllReduceSumInt64(int64_t value) = 0;
  virtual void BroadcastHost(void* buf, size_t bytes, int root) = 0;
  // Returns root's string on every rank (the length is broadcast first).
  std::string BroadcastString(const std::string& value, int root);

  // A new communicator over the ranks that pass the same `color`, ordered by `key` (then by
  // rank). Collective over this group. The child takes this group's collective timeout.
  virtual std::unique_ptr<Communicator> Split(int color, int key) = 0;

  // Seconds any one wait may take before the job is aborted.
  virtual void SetCollectiveTimeout(double seconds) = 0;
  virtual double collective_timeout() const = 0;
  // Sequence number of the last collective issued on this communicator (0 = none yet).
  virtual uint64_t last_sequence() const = 0;

  // Prints "[rank R/world W] fatal: reason" once per process and ends the whole job
  // (NCCL: ncclCommAbort first). Never returns.
  [[noreturn]] virtual void Abort(const std::string& reason) = 0;

 protected:
  Communicator(Communicator&&) = default;
  Communicator& operator=(Communicator&&) = default;
};

// send: host [count_per_rank] -> recv: host [comm.size(), count_per_rank]. The communicator's
// AllGather when its data plane is host memory (MPI); otherwise (NCCL, device buffers) one host
// broadcast per rank over its control plane.
void AllGatherHost(Communicator& comm, const float* send, float* recv, size_t count_per_rank);

}  // namespace pg
