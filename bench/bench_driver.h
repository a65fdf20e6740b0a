// The `paligemma bench` sweep: for every (ranks, tp) layout that fits the MPI world, load the
// model once (this rank's shard), measure the tensor-parallel collectives, then every
// (vit placement, scaling, batch) case with warmup and measured iterations; print one line per
// case and write DIR/bench.csv, DIR/collectives.csv, DIR/bench.json (bench/bench_report.h).
//
//   mpirun -np 4 paligemma bench --config configs/tiny.json --ranks 1,2,4 --tp 1,2,4
//       --batch 1,4,16 --images 16 --scaling strong,weak --out bench-out
//
// Scaling: "strong" runs --images images per iteration whatever the layout; "weak" runs
// --images per active rank (images x ranks in all). --config makes a random-weight model
// (models/random_checkpoint.h) in DIR first and deletes it at the end (--keep-model keeps it);
// every rank reads it from there, so across hosts DIR must be on a shared filesystem (or use
// --model with a checkpoint every host can read).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace pg {

struct BenchOptions {
  std::string model;             // HDF5 checkpoint, or
  std::string config;            // model config JSON: a random model is made from it
  std::string dtype = "f32";     // of the random model
  uint64_t seed = 0;             // random weights and synthetic prompts
  std::vector<int> ranks;        // active ranks per layout (default: the world size)
  std::vector<int> tp{1};
  std::vector<int> batch{1, 4, 16};
  std::vector<std::string> scaling{"strong"};
  std::vector<std::string> vit{"leader"};
  int images = 16;               // per iteration (strong) or per rank (weak)
  int prompt_len = 8;            // text tokens per prompt, <bos> included
  int new_tokens = 20;
  std::string backend = "cpu";
  std::string weight_dtype = "auto";  // --weight-dtype: how the CPU backend holds weights (SessionOptions)
  int threads = 1;               // per rank
  int warmup = 1;
  int iters = 3;
  std::string out = "bench-out";
  std::string image_source;      // directory / list / file; default PG_HOME/assets/images
  bool append = false;
  bool keep_model = false;
  bool quick = false;
  bool full_logits = false;
  bool kernels = false;          // print per-op kernel timings on the engine's shapes (bench/kernel_timings.h)
  bool peaks = false;            // measure and print the machine's GEMM / memory peaks first      // bring every step's full logits to the host (BenchCase::full_logits)
  std::vector<int64_t> collective_bytes{256, 4096, 65536, 1 << 20, 8 << 20};
  int collective_iters = 20;

  // --quick: a small sweep (tiny model sizes) for CI, for every option not in `given`
  // (the flag names given on the command line, e.g. "--batch").
  void ApplyQuick(int world_size, const std::set<std::string>& given);
  // Throws pg::Error naming the bad option (same verdict on every rank).
  void Validate() const;
};

// Collective over MPI_COMM_WORLD.
void RunBench(const BenchOptions& options);

}  // namespace pg
