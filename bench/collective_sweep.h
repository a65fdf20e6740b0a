// Latency of the tensor-parallel collectives at message sizes that matter to the model (a
// decode step's [batch, D] sums up to a prefill's [batch, T, D]), measured on every
// tensor-parallel group of a layout at once (as the model uses them). Feeds the alpha-beta
// fit of bench/projection.py. Per size: `warmup` calls, then `iters` calls, each after a
// group barrier and timed alone with MPI_Wtime; the median per rank, then the max over ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_layout.h"

namespace pg {

struct CollectiveResult {
  std::string op;       // "allreduce_f32" | "broadcast"
  int64_t bytes = 0;
  int iters = 0;
  double seconds = 0;   // median per call, max over the active ranks
};

// Collective over layout.active_comm (every active rank; at tp 1 returns nothing).
std::vector<CollectiveResult> SweepCollectives(BenchLayout& layout, const std::vector<int64_t>& bytes, int warmup,
                                               int iters);

// Element-wise max over the ranks of `comm` of v (as floats), on every rank.
std::vector<double> MaxOverRanks(Communicator& comm, const std::vector<double>& v);
// Element-wise mean over the ranks of `comm`.
std::vector<double> MeanOverRanks(Communicator& comm, const std::vector<double>& v);

// Median of v (v not empty).
double Median(std::vector<double> v);

}  // namespace pg
