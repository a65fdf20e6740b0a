// Multi-rank tests of MpiCommunicator, run under mpirun by tests/mpi/tests.cmake:
//   communicator_mpitest collectives   exact (integer-valued) collectives; pass/fail agreed
//   communicator_mpitest stall         PG_DEBUG_STALL_BEFORE_OP makes one rank miss an op:
//                                      the others' deadline aborts the job, naming the op
//   communicator_mpitest throw         the last rank throws: RunMpiMain aborts the job
//   communicator_mpitest abort         rank 0 calls Communicator::Abort
//   communicator_mpitest sigstop       the last rank stops itself: the others' deadline fires
//   communicator_mpitest sigkill       the last rank kills itself: mpirun ends the job
// Failure cases are checked by expect_failure.sh (exit code, elapsed time, stderr lines).
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dist/error_agreement.h"
#include "dist/mpi_communicator.h"
#include "dist/run_main.h"
#include "runtime/check.h"
#include "tests/mpi/mpitest_util.h"

namespace {

using pg::MpiCommunicator;

// buf: [count] with rank r holding (r + 1) * (i % 97 + 1): exact sums up to 2^24.
void TestAllReduceSumExact(MpiCommunicator& comm) {
  const int n = comm.size();
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1024}, size_t{1000003}}) {
    std::vector<float> buf(count);
    for (size_t i = 0; i < count; ++i) buf[i] = float((comm.rank() + 1) * int(i % 97 + 1));
    comm.AllReduceSum(buf.data(), count);
    size_t bad = 0;
    for (size_t i = 0; i < count; ++i) {
      const float expected = float(int(i % 97 + 1) * n * (n + 1) / 2);
      if (buf[i] != expected && bad++ == 0) {
        MPITEST_CHECK(false, "AllReduceSum count " << count << " element " << i << ": got "
                                                   << buf[i] << ", expected " << expected);
      }
    }
  }
}

// Non-integer floats: every rank must end with bit-identical sums (or TP ranks desync).
void TestAllReduceSumIdenticalOnAllRanks(MpiCommunicator& comm) {
  std::mt19937 rng(1234 + comm.rank());
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> buf(4099);
  for (float& x : buf) x = dist(rng);
  comm.AllReduceSum(buf.data(), buf.size());
  std::vector<float> root_copy = buf;
  MPI_Bcast(root_copy.data(), int(root_copy.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
  MPITEST_CHECK(std::memcmp(root_copy.data(), buf.data(), buf.size() * sizeof(float)) == 0,
                "AllReduceSum results differ bitwise from rank 0's");
}

uint16_t Bf16(float f) {  // exact for the values used here
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return uint16_t(bits >> 16);
}

void TestAllReduceSumBf16(MpiCommunicator& comm) {
  const int n = comm.size();
  std::vector<uint16_t> buf(301);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = Bf16(float((comm.rank() + 1) * int(i % 5 + 1)));
  comm.AllReduceSumBf16(buf.data(), buf.size());
  for (size_t i = 0; i < buf.size(); ++i) {
    MPITEST_CHECK_EQ(buf[i], Bf16(float(int(i % 5 + 1) * n * (n + 1) / 2)));
  }
  if (n < 2) return;
  // Rounding: 1.0 + 1.0078125 = 2.0078125 is a tie between bf16 2.0 and 2.015625 -> even: 2.0.
  // 1.0 + 1.0234375 = 2.0234375 is a tie between 2.015625 and 2.03125 -> even: 2.03125.
  uint16_t tie[2] = {0, 0};
  if (comm.rank() == 0) tie[0] = tie[1] = 0x3F80;  // 1.0
  if (comm.rank() == 1) {
    tie[0] = 0x3F81;  // 1.0078125
    tie[1] = 0x3F83;  // 1.0234375
  }
  comm.AllReduceSumBf16(tie, 2);
  MPITEST_CHECK_EQ(tie[0], uint16_t{0x4000});
  MPITEST_CHECK_EQ(tie[1], uint16_t{0x4002});
}

void TestBroadcast(MpiCommunicator& comm) {
  for (int root = 0; root < comm.size(); ++root) {
    std::vector<unsigned char> buf(1001, 0xEE);
    if (comm.rank() == root) {
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = (unsigned char)((root * 31 + i) & 0xff);
    }
    comm.Broadcast(buf.data(), buf.size(), root);
    for (size_t i = 0; i < buf.size(); ++i) {
      MPITEST_CHECK_EQ(int(buf[i]), int((root * 31 + i) & 0xff));
    }
  }
  comm.Broadcast(nullptr, 0, 0);  // zero bytes is still a matched collective
  bool threw = false;
  try {
    comm.Broadcast(nullptr, 0, comm.size());  // invalid root: local error, no collective
  } catch (const pg::Error&) {
    threw = true;
  }
  MPITEST_CHECK(threw, "Broadcast to root " << comm.size() << " did not throw");
}

void TestAllGather(MpiCommunicator& comm) {
  const size_t count = 13;
  std::vector<float> send(count), recv(count * comm.size(), -1.f);
  for (size_t i = 0; i < count; ++i) send[i] = float(comm.rank() * 1000 + int(i));
  comm.AllGather(send.data(), recv.data(), count);
  for (int r = 0; r < comm.size(); ++r) {
    for (size_t i = 0; i < count; ++i) MPITEST_CHECK_EQ(recv[r * count + i], float(r * 1000 + int(i)));
  }
  // In place: our block of recv is the send buffer.
  std::vector<float> inplace(count * comm.size(), -1.f);
  float* mine = inplace.data() + comm.rank() * count;
  for (size_t i = 0; i < count; ++i) mine[i] = float(comm.rank() * 1000 + int(i));
  comm.AllGather(mine, inplace.data(), count);
  MPITEST_CHECK(inplace == recv, "in-place AllGather differs from out-of-place");
}

void TestControlPlane(MpiCommunicator& comm) {
  const int64_t n = comm.size(), r = comm.rank(), big = int64_t{1} << 40;
  MPITEST_CHECK_EQ(comm.AllReduceMaxInt64(big + r), big + n - 1);
  MPITEST_CHECK_EQ(comm.AllReduceMinInt64(big + r), big);
  MPITEST_CHECK_EQ(comm.AllReduceSumInt64(big + r), n * big + n * (n - 1) / 2);
  const int root = comm.size() - 1;
  const std::string sent = "hello from rank " + std::to_string(root);
  MPITEST_CHECK_EQ(comm.BroadcastString(comm.rank() == root ? sent : "x", root), sent);
  MPITEST_CHECK_EQ(comm.BroadcastString(comm.rank() == 0 ? "" : "junk", 0), std::string());
  comm.Barrier();
}

void TestSplit(MpiCommunicator& comm) {
  const int n = comm.size(), r = comm.rank();
  // Ranks of one parity, ordered by descending world rank (key = -rank).
  auto child = comm.Split(/*color=*/r % 2, /*key=*/-r);
  int expected_size = 0, expected_rank = 0;
  float expected_sum = 0;
  for (int q = r % 2; q < n; q += 2) {
    ++expected_size;
    if (q > r) ++expected_rank;
    expected_sum += float(q);
  }
  MPITEST_CHECK_EQ(child->size(), expected_size);
  MPITEST_CHECK_EQ(child->rank(), expected_rank);
  MPITEST_CHECK_EQ(child->collective_timeout(), comm.collective_timeout());
  float x = float(r);
  child->AllReduceSum(&x, 1);
  MPITEST_CHECK_EQ(x, expected_sum);
}

void TestErrorAgreement(MpiCommunicator& comm) {
  const int n = comm.size(), r = comm.rank();
  int failing = -2;
  MPITEST_CHECK_EQ(pg::AgreeOnError(comm, "", &failing), std::string());
  MPITEST_CHECK_EQ(failing, -1);
  // Odd ranks fail (rank 0 alone when n == 1): everyone gets the lowest failing rank's error.
  const bool fails = n == 1 || r % 2 == 1;
  const std::string agreed =
      pg::AgreeOnError(comm, fails ? "error from rank " + std::to_string(r) : "", &failing);
  const int lowest = n == 1 ? 0 : 1;
  MPITEST_CHECK_EQ(agreed, "error from rank " + std::to_string(lowest));
  MPITEST_CHECK_EQ(failing, lowest);
  // AgreePhase: every rank throws the same AgreedError.
  std::string what;
  bool world_wide = false;
  try {
    pg::AgreePhase(comm, "load", [&] { PG_CHECK(r != n - 1, "injected on rank " << r); });
  } catch (const pg::AgreedError& e) {
    what = e.what();
    world_wide = e.world_wide();
  }
  const std::string last = std::to_string(n - 1);
  MPITEST_CHECK_EQ(what, "phase 'load' failed on rank " + last + ": injected on rank " + last);
  MPITEST_CHECK(world_wide, "AgreedError over the world communicator is not world_wide");
}

int RunCollectives() {
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  MPITEST_CHECK_EQ(comm->last_sequence(), uint64_t{1});
  TestAllReduceSumExact(*comm);
  TestAllReduceSumIdenticalOnAllRanks(*comm);
  TestAllReduceSumBf16(*comm);
  TestBroadcast(*comm);
  TestAllGather(*comm);
  TestControlPlane(*comm);
  TestSplit(*comm);
  TestErrorAgreement(*comm);
  // Every rank issued the same collectives, so the sequence numbers agree.
  const auto seq = int64_t(comm->last_sequence());
  MPITEST_CHECK_EQ(comm->AllReduceMaxInt64(seq), seq);
  bool threw = false;
  try {
    comm->SetCollectiveTimeout(-1);
  } catch (const pg::Error&) {
    threw = true;
  }
  MPITEST_CHECK(threw, "SetCollectiveTimeout(-1) did not throw");
  return pg_mpitest::AgreeOnResult("communicator collectives");
}

// Ops #2 and #3 are AllReduceSum; run with PG_DEBUG_STALL_BEFORE_OP=<rank>:3 and a short
// PG_COLLECTIVE_TIMEOUT_S. Returning 0 means the deadline did not fire: the wrapper fails.
int RunStall() {
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  float x = 1;
  comm->AllReduceSum(&x, 1);
  comm->AllReduceSum(&x, 1);
  std::fprintf(stderr, "[rank %d] stall case finished without a timeout\n", comm->rank());
  return 0;
}

// The last rank throws after a barrier; the others wait in a collective that only the abort
// can end (timeout 600 s).
int RunThrow() {
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  comm->SetCollectiveTimeout(600);
  comm->Barrier();
  PG_CHECK(comm->rank() != comm->size() - 1, "injected failure on rank " << comm->rank());
  float x = 1;
  comm->AllReduceSum(&x, 1);
  return 0;
}

// The last rank stops (SIGSTOP: alive but stuck) or dies (SIGKILL) after a barrier; the
// others wait in AllReduceSum under PG_COLLECTIVE_TIMEOUT_S (stop) or 600 s (kill).
int RunSignal(int signal_number) {
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  if (signal_number == SIGKILL) comm->SetCollectiveTimeout(600);
  comm->Barrier();
  if (comm->rank() == comm->size() - 1) raise(signal_number);
  float x = 1;
  comm->AllReduceSum(&x, 1);
  std::fprintf(stderr, "[rank %d] signal case finished\n", comm->rank());
  return 0;
}

int RunAbort() {
  auto comm = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  comm->SetCollectiveTimeout(600);
  comm->Barrier();
  if (comm->rank() == 0) comm->Abort("injected abort on rank 0");
  comm->Barrier();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return pg::RunMpiMain(argc, argv, [](int argc, char** argv) {
    const std::string which = argc > 1 ? argv[1] : "";
    if (which == "collectives") return RunCollectives();
    if (which == "stall") return RunStall();
    if (which == "throw") return RunThrow();
    if (which == "abort") return RunAbort();
    if (which == "sigstop") return RunSignal(SIGSTOP);
    if (which == "sigkill") return RunSignal(SIGKILL);
    PG_THROW("usage: communicator_mpitest collectives|stall|throw|abort|sigstop|sigkill (got '" << which << "')");
  });
}
