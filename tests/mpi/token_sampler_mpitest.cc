// TokenSampler under tensor parallelism: each rank holds its vocabulary shard [B, V / tp] of the
// same random logits; the tokens it samples (greedy, top-k, top-k + top-p, and temperature
// without top-k, which gathers whole rows) must equal Sampler::SampleOne over the full rows, on
// every rank, and only the top-k pairs may leave the backend on the candidate paths. With
// log-probabilities requested (--scores), every rank also gets log_softmax(full row)[token],
// from the per-shard log-sum-exp values carried in the same all-gather.
//
// usage: token_sampler_mpitest   (under mpirun -np 1, 2 or 4)
#include <cmath>
#include <random>

#include "dist/run_main.h"
#include "dist/world.h"
#include "models/token_sampler.h"
#include "tests/mpi/mpitest_util.h"

namespace pg {
namespace {

int Run(int, char**) {
  World world = World::Create(pg_mpitest::WorldSize());
  const int tp = world.config().tp, rank = world.config().tp_rank;
  TpGroup group{&world.tp_group(), rank, tp};
  const int B = 5, V = 1600, Vl = V / tp;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 3.f);
  std::vector<float> full(static_cast<size_t>(B) * V);
  for (float& x : full) x = normal(rng);
  for (int b = 0; b < B; ++b) full[b * V + 17 + 300 * b] = full[b * V + 1500 - b];  // ties across shards
  full[2 * V + 3] = -INFINITY;
  std::vector<float> shard(static_cast<size_t>(B) * Vl);
  for (int b = 0; b < B; ++b)
    std::copy(full.begin() + b * V + rank * Vl, full.begin() + b * V + (rank + 1) * Vl, shard.begin() + b * Vl);
  auto be = MakeBackend("cpu");
  Tensor local = be->Upload("logits_local", {B, Vl}, shard.data());
  const std::vector<int64_t> ids = {3, 14, 15, 92, 65};

  SamplingParams modes[5];
  modes[1].temperature = 0.7f, modes[1].top_k = 40, modes[1].seed = 11;
  modes[2].temperature = 1.3f, modes[2].top_k = 200, modes[2].top_p = 0.8f, modes[2].seed = 12;
  modes[3].temperature = 0.9f, modes[3].seed = 13;  // no top-k: whole rows
  modes[4].temperature = 1.0f, modes[4].top_k = 1000, modes[4].seed = 14;  // top_k > V / tp at tp 2, 4
  for (const SamplingParams& mode : modes) {
    TokenSampler ts(mode, V);
    const Sampler reference(mode);
    for (int64_t step = 0; step < 20; ++step) {
      const std::vector<int64_t> steps(B, step);
      const int64_t before = be->stats().bytes_to_host;
      const std::vector<int> got = ts.Next(*be, group, local, static_cast<int64_t>(rank) * Vl, ids, steps);
      const int64_t moved = be->stats().bytes_to_host - before;
      const int k = ts.sampler().CandidatesNeeded(V);
      const int64_t expected_bytes = k > 0 ? int64_t{B} * std::min(k, Vl) * 8 : int64_t{B} * Vl * 4;
      MPITEST_CHECK(moved == expected_bytes, mode.ToString() << ": " << moved << " bytes left the backend, expected "
                                                             << expected_bytes);
      for (int b = 0; b < B; ++b) {
        const int want = reference.SampleOne(full.data() + static_cast<size_t>(b) * V, V, ids[b], step);
        MPITEST_CHECK(got[b] == want, mode.ToString() << " step " << step << " row " << b << ": token " << got[b]
                                                      << ", full-row sampler " << want);
      }
      // The same step with log-probabilities: same tokens, log p from the full row.
      std::vector<float> logprobs;
      const std::vector<int> again =
          ts.Next(*be, group, local, static_cast<int64_t>(rank) * Vl, ids, steps, nullptr, &logprobs);
      MPITEST_CHECK(again == got, mode.ToString() << ": tokens changed when log-probabilities were asked for");
      for (int b = 0; b < B; ++b) {
        const float* row = full.data() + static_cast<size_t>(b) * V;
        double m = row[0], sum = 0;
        for (int v = 0; v < V; ++v) m = std::max(m, double(row[v]));
        for (int v = 0; v < V; ++v) sum += std::exp(row[v] - m);
        const double want = row[got[b]] - m - std::log(sum);
        MPITEST_CHECK(std::fabs(logprobs[b] - want) <= 1e-5 * (1 + std::fabs(want)),
                      mode.ToString() << " step " << step << " row " << b << ": log p " << logprobs[b] << ", expected "
                                      << want);
      }
    }
  }
  return pg_mpitest::AgreeOnResult("token_sampler tp " + std::to_string(tp));
}

}  // namespace
}  // namespace pg

int main(int argc, char** argv) { return pg::RunMpiMain(argc, argv, pg::Run); }
