// Random-weight checkpoints for benchmarks and tests that need no download:
//
//   paligemma convert --random --config configs/mid.json --output mid.h5 [--dtype bf16] [--seed 7]
//
// Every dataset of WeightTable(config) is filled by its WeightRole: matrices with N(0, stddev^2)
// values (default 0.02, the usual transformer init); the normalisation parameters keep the
// layer an identity map:
//   - Gemma RMSNorm scales are 0, because Gemma multiplies by (1 + scale);
//   - ViT LayerNorm scales are 1 (LayerNorm multiplies by scale itself: 0 would zero the
//     activations);
//   - every bias is 0.
// Value i of dataset d is a pure function of (seed, d's name, i) (counter-based RNG), so the
// file does not depend on how it is streamed, and the same seed always gives the same file.
// Data is streamed through CheckpointWriter::WriteSlab in slabs of at most slab_elements, so
// memory stays at one slab whatever the model size. Written to OUTPUT.tmp, re-opened with the
// validating CheckpointReader, then renamed to OUTPUT.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "models/model_config.h"
#include "models/weight_table.h"
#include "runtime/dtype.h"

namespace pg {

struct RandomCheckpointOptions {
  DType dtype = DType::kF32;
  uint64_t seed = 0;
  float stddev = 0.02f;
  int64_t slab_elements = int64_t{4} << 20;     // largest slab handed to WriteSlab (16 MiB of f32)
  std::function<void(const std::string&)> log;  // one line per dataset; may be empty
};

// What kind of values dataset `spec` gets (from spec.role).
enum class RandomFill { kNormal, kZero, kOne };
RandomFill RandomFillFor(const WeightSpec& spec);

// Value `index` (flat C-order index) of the dataset named `name`: N(0, stddev^2) by Box-Muller
// over models/counter_rng.h. Exposed for tests.
float RandomWeightValue(uint64_t seed, const std::string& name, int64_t index, float stddev);

// Writes the random checkpoint to `output` (see above). Returns the number of weights written.
int64_t WriteRandomCheckpoint(const ModelConfig& config, const std::string& output,
                              const RandomCheckpointOptions& options);

}  // namespace pg
