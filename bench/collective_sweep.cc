#include "bench/collective_sweep.h"

#include <mpi.h>

#include <algorithm>

#include "runtime/check.h"

namespace pg {
namespace {

// [size, n] gathered values of every rank.
std::vector<float> GatherAll(Communicator& comm, const std::vector<double>& v) {
  std::vector<float> mine(v.begin(), v.end()), all(v.size() * comm.size());
  if (!v.empty()) comm.AllGather(mine.data(), all.data(), mine.size());
  return all;
}

}  // namespace

double Median(std::vector<double> v) {
  PG_CHECK(!v.empty(), "median of nothing");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<double> MaxOverRanks(Communicator& comm, const std::vector<double>& v) {
  const std::vector<float> all = GatherAll(comm, v);
  std::vector<double> out(v.size(), -1e300);
  for (int r = 0; r < comm.size(); ++r)
    for (size_t i = 0; i < v.size(); ++i) out[i] = std::max(out[i], static_cast<double>(all[r * v.size() + i]));
  return out;
}

std::vector<double> MeanOverRanks(Communicator& comm, const std::vector<double>& v) {
  const std::vector<float> all = GatherAll(comm, v);
  std::vector<double> out(v.size(), 0.0);
  for (int r = 0; r < comm.size(); ++r)
    for (size_t i = 0; i < v.size(); ++i) out[i] += all[r * v.size() + i] / comm.size();
  return out;
}

std::vector<CollectiveResult> SweepCollectives(BenchLayout& layout, const std::vector<int64_t>& bytes, int warmup,
                                               int iters) {
  std::vector<CollectiveResult> out;
  if (layout.tp == 1) return out;
  PG_CHECK(iters >= 1 && warmup >= 0, "collective sweep: iters " << iters << ", warmup " << warmup);
  MpiCommunicator& tp = *layout.tp_comm;
  std::vector<double> medians;
  for (const char* op : {"allreduce_f32", "broadcast"}) {
    for (int64_t b : bytes) {
      const size_t count = static_cast<size_t>(std::max<int64_t>(b / 4, 1));
      std::vector<float> buf(count, 1.f);
      std::vector<double> times;
      for (int i = 0; i < warmup + iters; ++i) {
        tp.Barrier();
        const double s = MPI_Wtime();
        if (op[0] == 'a')
          tp.AllReduceSum(buf.data(), count);
        else
          tp.Broadcast(buf.data(), count * sizeof(float), 0);
        if (i >= warmup) times.push_back(MPI_Wtime() - s);
      }
      medians.push_back(Median(times));
      out.push_back(CollectiveResult{op, static_cast<int64_t>(count * sizeof(float)), iters, 0});
    }
  }
  const std::vector<double> worst = MaxOverRanks(*layout.active_comm, medians);
  for (size_t i = 0; i < out.size(); ++i) out[i].seconds = worst[i];
  return out;
}

}  // namespace pg
