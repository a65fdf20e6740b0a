// NCCL implementation of Communicator (see dist/nccl_communicator.h). Compiled only with CUDA.
#include "dist/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "dist/abort.h"
#include "dist/collective_deadline.h"
#include "dist/collective_watchdog.h"
#include "dist/mpi_communicator.h"
#include "runtime/check.h"
#include "runtime/cuda_backend.h"

namespace pg {
namespace {

// Collectives in flight per communicator (one completion event each); enqueueing one more waits
// for the oldest.
constexpr size_t kMaxCollectivesInFlight = 64;

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<MpiCommunicator> control, int device, cudaStream_t stream,
                   std::string label);
  ~NcclCommunicator() override;
  // Not movable: the watchdog thread's hooks hold `this`.
  NcclCommunicator(NcclCommunicator&&) = delete;
  NcclCommunicator& operator=(NcclCommunicator&&) = delete;

  int rank() const override { return control_->rank(); }
  int size() const override { return control_->size(); }
  std::string name() const override { return "nccl:" + label_; }
  MemorySpace buffer_space() const override { return MemorySpace::kDevice; }

  void AllReduceSum(float* buf, size_t count) override {
    const uint64_t seq = BeginOp("AllReduceSum");
    Enqueue("AllReduceSum", seq,
            ncclAllReduce(buf, buf, count, ncclFloat32, ncclSum, comm_, stream_));
  }
  void AllReduceSumBf16(void* buf, size_t count) override {
    const uint64_t seq = BeginOp("AllReduceSumBf16");
    Enqueue("AllReduceSumBf16", seq,
            ncclAllReduce(buf, buf, count, ncclBfloat16, ncclSum, comm_, stream_));
  }
  void Broadcast(void* buf, size_t bytes, int root) override {
    PG_CHECK(root >= 0 && root < size(), "Broadcast on " << name() << ": root " << root
                                                         << " is not a rank of a group of "
                                                         << size());
    const uint64_t seq = BeginOp("Broadcast");
    Enqueue("Broadcast", seq, ncclBroadcast(buf, buf, bytes, ncclUint8, root, comm_, stream_));
  }
  void AllGather(const float* send, float* recv, size_t count_per_rank) override {
    const uint64_t seq = BeginOp("AllGather");
    Enqueue("AllGather", seq,
            ncclAllGather(send, recv, count_per_rank, ncclFloat32, comm_, stream_));
  }

  void Barrier() override { control_->Barrier(); }
  int64_t AllReduceMaxInt64(int64_t v) override { return control_->AllReduceMaxInt64(v); }
  int64_t AllReduceMinInt64(int64_t v) override { return control_->AllReduceMinInt64(v); }
  int64_t AllReduceSumInt64(int64_t v) override { return control_->AllReduceSumInt64(v); }
  void BroadcastHost(void* buf, size_t bytes, int root) override {
    control_->BroadcastHost(buf, bytes, root);
  }

  std::unique_ptr<Communicator> Split(int color, int key) override {
    std::ostringstream label;
    label << label_ << ".split" << color;
    std::unique_ptr<MpiCommunicator> child = control_->SplitMpi(color, key, label.str());
    auto out = MakeNcclCommunicator(child->comm(), device_, stream_, label.str());
    out->SetCollectiveTimeout(timeout_s_);
    return out;
  }

  void SetCollectiveTimeout(double seconds) override {
    CheckTimeoutSeconds(seconds, "communicator " + name());
    timeout_s_ = seconds;
    control_->SetCollectiveTimeout(seconds);
    if (watchdog_) watchdog_->SetTimeout(seconds);
  }
  double collective_timeout() const override { return timeout_s_; }
  // Data-plane collectives only; the control plane numbers its own ("mpi:<label>.control").
  uint64_t last_sequence() const override { return seq_; }

  [[noreturn]] void Abort(const std::string& reason) override {
    PrintFatalOnce(reason);
    StartHardExitWatchdog(AbortGraceSeconds());
    // The watchdog thread and the main thread may both get here: only the first aborts the
    // communicator; the other waits for the process to end (HardAbort or the exit watchdog).
    if (aborting_.exchange(true)) {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (comm_ != nullptr) ncclCommAbort(comm_);
    HardAbort(1);
  }

 private:
  std::string Describe() const {
    std::ostringstream os;
    os << name() << " (rank " << rank() << " of " << size() << ", device " << device_ << ")";
    return os.str();
  }
  uint64_t BeginOp(const char* op);
  // Checks the enqueue result, records a completion event after the collective and hands it to
  // the watchdog; returns without waiting for the stream.
  void Enqueue(const char* op, uint64_t seq, ncclResult_t result);
  // The watchdog thread's hooks: ncclCommGetAsyncError; on error or timeout ncclCommAbort + abort.
  void StartWatchdog();
  // Polls the (non-blocking) communicator until it leaves ncclInProgress.
  void WaitReady(const char* op, uint64_t seq);
  [[noreturn]] void Fail(const char* op, uint64_t seq, const std::string& why);

  std::unique_ptr<MpiCommunicator> control_;
  ncclComm_t comm_ = nullptr;
  std::atomic<bool> aborting_{false};  // Abort() runs ncclCommAbort once, whichever thread comes first
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  std::string label_;
  double timeout_s_ = 0;
  uint64_t seq_ = 0;
  std::vector<cudaEvent_t> events_;  // ring of kMaxCollectivesInFlight completion events
  uint64_t enqueued_ = 0;            // collectives handed to the watchdog (events_ index)
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

std::string NcclErrorText(ncclComm_t comm, ncclResult_t result) {
  std::ostringstream os;
  os << ncclGetErrorString(result);
  const char* last = comm != nullptr ? ncclGetLastError(comm) : nullptr;
  if (last != nullptr && *last != '\0') os << " (" << last << ")";
  return os.str();
}

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> control, int device,
                                   cudaStream_t stream, std::string label)
    : control_(std::move(control)),
      device_(ResolveCudaDevice(device)),  // local rank % visible devices
      stream_(stream),
      label_(std::move(label)),
      timeout_s_(control_->collective_timeout()) {
  const cudaError_t set = cudaSetDevice(device_);
  PG_CHECK(set == cudaSuccess, RankTag() << " cudaSetDevice(" << device_ << ") for " << name()
                                         << " failed: " << cudaGetErrorString(set));
  ncclUniqueId id;
  if (control_->rank() == 0) {
    const ncclResult_t r = ncclGetUniqueId(&id);
    PG_CHECK(r == ncclSuccess, RankTag() << " ncclGetUniqueId for " << name()
                                         << " failed: " << ncclGetErrorString(r));
  }
  control_->BroadcastHost(&id, sizeof(id), 0);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so initialisation can be polled under the deadline
  const uint64_t seq = BeginOp("CommInitRank");
  const ncclResult_t r = ncclCommInitRankConfig(&comm_, size(), id, rank(), &config);
  if (r != ncclSuccess && r != ncclInProgress) Fail("CommInitRank", seq, NcclErrorText(comm_, r));
  WaitReady("CommInitRank", seq);
  StartWatchdog();
}

void NcclCommunicator::StartWatchdog() {
  events_.resize(kMaxCollectivesInFlight, nullptr);
  for (cudaEvent_t& e : events_) {
    const cudaError_t r = cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
    if (r != cudaSuccess) Fail("CommInitRank", seq_, std::string("cudaEventCreate: ") + cudaGetErrorString(r));
  }
  CollectiveWatchdogHooks hooks;
  hooks.on_start = [device = device_] { cudaSetDevice(device); };
  hooks.async_error = [this]() -> std::string {
    ncclResult_t state = ncclSuccess;
    if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
    return state == ncclSuccess || state == ncclInProgress ? std::string() : NcclErrorText(comm_, state);
  };
  hooks.fail = [this](const std::string& why) { Abort(why); };  // ncclCommAbort, then the job
  watchdog_ = std::make_unique<CollectiveWatchdog>(Describe(), timeout_s_, std::move(hooks));
}

NcclCommunicator::~NcclCommunicator() {
  watchdog_.reset();  // stop polling before the communicator goes
  for (cudaEvent_t e : events_)
    if (e != nullptr) cudaEventDestroy(e);  // released by the driver once recorded work completes
  if (comm_ == nullptr) return;
  // Finalize flushes outstanding work; if it does not finish in time, abort the communicator.
  cudaSetDevice(device_);
  ncclResult_t state = ncclCommFinalize(comm_);
  if (state == ncclInProgress) {
    PollUntil(
        [&] {
          if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
          return state != ncclInProgress;
        },
        timeout_s_);
  }
  if (state == ncclSuccess) {
    ncclCommDestroy(comm_);
  } else {
    ncclCommAbort(comm_);
  }
}

uint64_t NcclCommunicator::BeginOp(const char* op) {
  PG_CHECK(comm_ != nullptr || seq_ == 0,
           "collective " << op << " on a moved-from communicator " << name());
  ++seq_;
  MaybeStallBeforeOp(op, seq_, name());
  const cudaError_t set = cudaSetDevice(device_);
  if (set != cudaSuccess) Fail(op, seq_, std::string("cudaSetDevice: ") + cudaGetErrorString(set));
  return seq_;
}

void NcclCommunicator::Fail(const char* op, uint64_t seq, const std::string& why) {
  std::ostringstream os;
  os << "NCCL collective " << op << " #" << seq << " on " << Describe() << " failed: " << why;
  Abort(os.str());
}

void NcclCommunicator::WaitReady(const char* op, uint64_t seq) {
  ncclResult_t state = ncclInProgress;
  const bool ok = PollUntil(
      [&] {
        if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclInternalError;
        return state != ncclInProgress;
      },
      timeout_s_);
  if (!ok) CollectiveTimedOut(op, seq, timeout_s_, Describe(), [this] { ncclCommAbort(comm_); });
  if (state != ncclSuccess) Fail(op, seq, NcclErrorText(comm_, state));
}

void NcclCommunicator::Enqueue(const char* op, uint64_t seq, ncclResult_t result) {
  if (result == ncclInProgress) {
    WaitReady(op, seq);  // the non-blocking communicator finishing the enqueue itself
  } else if (result != ncclSuccess) {
    Fail(op, seq, NcclErrorText(comm_, result));
  }
  // The event slot is reused once its previous collective is done (popped in stream order).
  watchdog_->WaitForPendingAtMost(kMaxCollectivesInFlight - 1);
  cudaEvent_t done = events_[enqueued_++ % kMaxCollectivesInFlight];
  const cudaError_t r = cudaEventRecord(done, stream_);
  if (r != cudaSuccess) Fail(op, seq, std::string("cudaEventRecord: ") + cudaGetErrorString(r));
  // A CUDA error on the stream also ends the wait: the next synchronising backend call reports it.
  watchdog_->Track(op, seq, [done] { return cudaEventQuery(done) != cudaErrorNotReady; });
}

}  // namespace

std::unique_ptr<Communicator> MakeNcclCommunicator(MPI_Comm group, int device, void* stream,
                                                   const std::string& label) {
  auto control = MpiCommunicator::Duplicate(group, label + ".control");
  return std::make_unique<NcclCommunicator>(std::move(control), device,
                                            static_cast<cudaStream_t>(stream), label);
}

}  // namespace pg
