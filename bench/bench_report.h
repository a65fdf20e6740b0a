// Results of `paligemma bench`: one row per measured case, written as CSV (bench.csv,
// collectives.csv) and JSON (bench.json: the machine, the options and every row), and printed
// as a table. Phase columns are the max over ranks of each rank's time, median over the
// measured iterations (see bench/bench_run.h for the phases).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_run.h"
#include "bench/collective_sweep.h"

namespace pg {

struct BenchRow {
  std::string model, dtype, backend, vit, scaling;
  int ranks = 1, tp = 1, dp = 1, batch = 1, images = 1, prompt_len = 1, new_tokens = 1;
  int threads = 1, nproc = 1, warmup = 0, iters = 1;
  PhaseTimes max;               // per phase: max over ranks, median over iterations
  PhaseTimes mean;              // per phase: mean over ranks, median over iterations
  double e2e_min = 0, e2e_max = 0;  // over iterations
  double load_start = 0, load_end = 0;  // 1-minute load average around the case
  std::string date_utc;

  bool oversubscribed() const { return ranks * threads > nproc; }
  double images_per_s() const { return max.e2e > 0 ? images / max.e2e : 0; }
  double tokens_per_s() const { return max.e2e > 0 ? static_cast<double>(images) * new_tokens / max.e2e : 0; }
  double decode_step_ms() const { return max.decode_steps > 0 ? 1e3 * max.decode / max.decode_steps : 0; }
  // Bytes the backend moved to the host per decode step (greedy: batch x 8, the TopK pairs).
  double decode_host_bytes_per_step() const {
    return max.decode_steps > 0 ? max.decode_host_bytes / max.decode_steps : 0;
  }
  // Cores the job's ranks used on average during an iteration (sum of CPU time / wall time).
  double cores_used() const { return max.e2e > 0 ? ranks * mean.cpu / max.e2e : 0; }

  static std::string CsvHeader();
  std::string CsvLine() const;
  nlohmann::json ToJson() const;
  // "tiny   4 = tp 2 x dp 2 leader strong b 4: 12.3 img/s ..." (one line).
  std::string Summary() const;
};

struct CollectiveRow {
  int ranks = 1, tp = 1, dp = 1;
  CollectiveResult result;
  static std::string CsvHeader();
  std::string CsvLine() const;
};

// Writes DIR/bench.csv, DIR/collectives.csv and DIR/bench.json. append: add to existing
// files (their headers must match) and to the JSON's "runs" list; else overwrite.
void WriteBenchOutputs(const std::string& dir, bool append, const nlohmann::json& run_header,
                       const std::vector<BenchRow>& rows, const std::vector<CollectiveRow>& collectives);

}  // namespace pg
