#include "dist/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>
#include <sstream>
#include <utility>

#include "dist/abort.h"
#include "dist/collective_deadline.h"
#include "runtime/check.h"

namespace pg {
namespace {

// Largest element count per MPI call (MPI counts are int).
constexpr size_t kMaxChunk = size_t{1} << 30;

bool MpiUsable() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Round to nearest even; NaN stays a (quiet) NaN.
uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  }
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// MPI_Op: inout[i] = bf16(float(in[i]) + float(inout[i])).
void Bf16SumOp(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = FloatToBf16(Bf16ToFloat(a[i]) + Bf16ToFloat(b[i]));
}

MPI_Op Bf16SumMpiOp() {
  static std::once_flag once;
  static MPI_Op op = MPI_OP_NULL;
  std::call_once(once, [] { CheckMpi(MPI_Op_create(&Bf16SumOp, 1, &op), "MPI_Op_create(bf16 sum)"); });
  return op;
}

}  // namespace

void CheckMpi(int rc, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) length = 0;
  PG_THROW(RankTag() << " " << what << " failed: MPI error " << rc << " ("
                     << std::string(text, static_cast<size_t>(length)) << ")");
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::Duplicate(MPI_Comm comm,
                                                            const std::string& label) {
  const double timeout_s = DefaultCollectiveTimeoutSeconds();
  MaybeStallBeforeOp("CommDup", 1, "mpi:" + label);
  MPI_Comm dup = MPI_COMM_NULL;
  MPI_Request request = MPI_REQUEST_NULL;
  CheckMpi(MPI_Comm_idup(comm, &dup, &request), "MPI_Comm_idup for mpi:" + label);
  int done = 0, rc = MPI_SUCCESS;
  const bool ok = PollUntil(
      [&] {
        rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        return rc != MPI_SUCCESS || done;
      },
      timeout_s);
  if (!ok) CollectiveTimedOut("CommDup", 1, timeout_s, "mpi:" + label + " (being created)");
  CheckMpi(rc, "MPI_Comm_idup for mpi:" + label);
  std::unique_ptr<MpiCommunicator> out(new MpiCommunicator(dup, label, timeout_s));
  out->seq_ = 1;  // the duplication was collective #1
  return out;
}

MpiCommunicator::MpiCommunicator(MPI_Comm owned, std::string label, double timeout_s)
    : comm_(owned), label_(std::move(label)), timeout_s_(timeout_s) {
  CheckTimeoutSeconds(timeout_s, "communicator mpi:" + label_);
  CheckMpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  CheckMpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  CheckMpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiCommunicator::~MpiCommunicator() {
  if (comm_ != MPI_COMM_NULL && MpiUsable()) MPI_Comm_free(&comm_);
}

MpiCommunicator::MpiCommunicator(MpiCommunicator&& other) noexcept
    : comm_(std::exchange(other.comm_, MPI_COMM_NULL)),
      label_(other.label_),  // the moved-from object keeps its name for error messages
      rank_(other.rank_),
      size_(other.size_),
      timeout_s_(other.timeout_s_),
      seq_(other.seq_) {}

MpiCommunicator& MpiCommunicator::operator=(MpiCommunicator&& other) noexcept {
  if (this != &other) {
    if (comm_ != MPI_COMM_NULL && MpiUsable()) MPI_Comm_free(&comm_);
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    label_ = other.label_;
    rank_ = other.rank_;
    size_ = other.size_;
    timeout_s_ = other.timeout_s_;
    seq_ = other.seq_;
  }
  return *this;
}

std::string MpiCommunicator::Describe() const {
  std::ostringstream os;
  os << name() << " (rank " << rank_ << " of " << size_ << ")";
  return os.str();
}

uint64_t MpiCommunicator::BeginOp(const char* op) {
  PG_CHECK(comm_ != MPI_COMM_NULL, "collective " << op << " on a moved-from communicator " << name());
  ++seq_;
  MaybeStallBeforeOp(op, seq_, name());
  return seq_;
}

void MpiCommunicator::Wait(MPI_Request* request, const char* op, uint64_t seq) {
  int done = 0, rc = MPI_SUCCESS;
  const bool ok = PollUntil(
      [&] {
        rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        return rc != MPI_SUCCESS || done;
      },
      timeout_s_);
  if (!ok) CollectiveTimedOut(op, seq, timeout_s_, Describe());
  std::ostringstream what;
  what << "collective " << op << " #" << seq << " on " << Describe();
  CheckMpi(rc, what.str());
}

void MpiCommunicator::AllReduceSum(float* buf, size_t count) {
  const uint64_t seq = BeginOp("AllReduceSum");
  size_t offset = 0;
  do {  // at least one call, so a zero-count op is still a matched collective
    const size_t n = std::min(kMaxChunk, count - offset);
    MPI_Request request;
    CheckMpi(MPI_Iallreduce(MPI_IN_PLACE, buf + offset, static_cast<int>(n), MPI_FLOAT, MPI_SUM,
                            comm_, &request),
             "MPI_Iallreduce");
    Wait(&request, "AllReduceSum", seq);
    offset += n;
  } while (offset < count);
}

void MpiCommunicator::AllReduceSumBf16(void* buf, size_t count) {
  const uint64_t seq = BeginOp("AllReduceSumBf16");
  auto* words = static_cast<uint16_t*>(buf);
  size_t offset = 0;
  do {
    const size_t n = std::min(kMaxChunk, count - offset);
    MPI_Request request;
    CheckMpi(MPI_Iallreduce(MPI_IN_PLACE, words + offset, static_cast<int>(n), MPI_UINT16_T,
                            Bf16SumMpiOp(), comm_, &request),
             "MPI_Iallreduce(bf16)");
    Wait(&request, "AllReduceSumBf16", seq);
    offset += n;
  } while (offset < count);
}

void MpiCommunicator::Broadcast(void* buf, size_t bytes, int root) {
  PG_CHECK(root >= 0 && root < size_, "Broadcast on " << name() << ": root " << root
                                                      << " is not a rank of a group of " << size_);
  const uint64_t seq = BeginOp("Broadcast");
  auto* p = static_cast<char*>(buf);
  size_t offset = 0;
  do {
    const size_t n = std::min(kMaxChunk, bytes - offset);
    MPI_Request request;
    CheckMpi(MPI_Ibcast(p + offset, static_cast<int>(n), MPI_BYTE, root, comm_, &request),
             "MPI_Ibcast");
    Wait(&request, "Broadcast", seq);
    offset += n;
  } while (offset < bytes);
}

void MpiCommunicator::AllGather(const float* send, float* recv, size_t count_per_rank) {
  PG_CHECK(count_per_rank <= static_cast<size_t>(INT_MAX),
           "AllGather on " << name() << ": " << count_per_rank
                           << " floats per rank exceeds the MPI limit of " << INT_MAX);
  const uint64_t seq = BeginOp("AllGather");
  const int n = static_cast<int>(count_per_rank);
  // Sending from our own block of recv must use MPI_IN_PLACE (MPI forbids aliased buffers).
  const void* source = send == recv + static_cast<size_t>(rank_) * count_per_rank ? MPI_IN_PLACE
                                                                                  : send;
  MPI_Request request;
  CheckMpi(MPI_Iallgather(source, n, MPI_FLOAT, recv, n, MPI_FLOAT, comm_, &request),
           "MPI_Iallgather");
  Wait(&request, "AllGather", seq);
}

void MpiCommunicator::Barrier() {
  const uint64_t seq = BeginOp("Barrier");
  MPI_Request request;
  CheckMpi(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  Wait(&request, "Barrier", seq);
}

int64_t MpiCommunicator::ReduceInt64(int64_t value, MPI_Op mpi_op, const char* op) {
  const uint64_t seq = BeginOp(op);
  MPI_Request request;
  CheckMpi(MPI_Iallreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, mpi_op, comm_, &request),
           std::string("MPI_Iallreduce for ") + op);
  Wait(&request, op, seq);
  return value;
}

int64_t MpiCommunicator::AllReduceMaxInt64(int64_t value) {
  return ReduceInt64(value, MPI_MAX, "AllReduceMaxInt64");
}
int64_t MpiCommunicator::AllReduceMinInt64(int64_t value) {
  return ReduceInt64(value, MPI_MIN, "AllReduceMinInt64");
}
int64_t MpiCommunicator::AllReduceSumInt64(int64_t value) {
  return ReduceInt64(value, MPI_SUM, "AllReduceSumInt64");
}

std::unique_ptr<Communicator> MpiCommunicator::Split(int color, int key) {
  std::ostringstream label;
  label << label_ << ".split" << color;
  return SplitMpi(color, key, label.str());
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::SplitMpi(int color, int key,
                                                           const std::string& label) {
  PG_CHECK(color >= 0, "Split of " << name() << ": color must be >= 0, got " << color);
  // MPI has no non-blocking split: first meet under the deadline, then split (quick once
  // every rank has arrived).
  const uint64_t seq = BeginOp("Split");
  MPI_Request request;
  CheckMpi(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  Wait(&request, "Split", seq);
  MPI_Comm child = MPI_COMM_NULL;
  CheckMpi(MPI_Comm_split(comm_, color, key, &child), "MPI_Comm_split of " + name());
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(child, label, timeout_s_));
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::SplitSharedMemory(const std::string& label) {
  const uint64_t seq = BeginOp("SplitSharedMemory");
  MPI_Request request;
  CheckMpi(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  Wait(&request, "SplitSharedMemory", seq);
  MPI_Comm child = MPI_COMM_NULL;
  CheckMpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &child),
           "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) of " + name());
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(child, label, timeout_s_));
}

void MpiCommunicator::SetCollectiveTimeout(double seconds) {
  CheckTimeoutSeconds(seconds, "communicator " + name());
  timeout_s_ = seconds;
}

void MpiCommunicator::Abort(const std::string& reason) { AbortJob(reason); }

}  // namespace pg
