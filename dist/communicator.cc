#include "dist/communicator.h"

#include <algorithm>

#include "runtime/check.h"

namespace pg {

std::string Communicator::BroadcastString(const std::string& value, int root) {
  int64_t length = rank() == root ? static_cast<int64_t>(value.size()) : 0;
  BroadcastHost(&length, sizeof(length), root);
  PG_CHECK(length >= 0, "BroadcastString on " << name() << ": root " << root
                                              << " sent a negative length " << length);
  std::string out = rank() == root ? value : std::string(static_cast<size_t>(length), '\0');
  if (length > 0) BroadcastHost(out.data(), out.size(), root);
  return out;
}

void AllGatherHost(Communicator& comm, const float* send, float* recv, size_t count_per_rank) {
  if (comm.buffer_space() == MemorySpace::kHost) {
    comm.AllGather(send, recv, count_per_rank);
    return;
  }
  std::copy(send, send + count_per_rank, recv + count_per_rank * comm.rank());
  for (int r = 0; r < comm.size(); ++r)
    comm.BroadcastHost(recv + count_per_rank * r, count_per_rank * sizeof(float), r);
}

}  // namespace pg
