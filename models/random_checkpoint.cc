#include "models/random_checkpoint.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include "models/checkpoint_reader.h"
#include "models/checkpoint_writer.h"
#include "models/counter_rng.h"
#include "runtime/check.h"

namespace pg {
namespace {

// FNV-1a: the dataset name -> the RNG stream, so values do not depend on table order.
uint64_t NameStream(const std::string& name) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Fills data[0, n) with values [first, first + n) of dataset `spec`.
void Fill(const WeightSpec& spec, RandomFill fill, uint64_t seed, float stddev, int64_t first, int64_t n,
          float* data) {
  if (fill != RandomFill::kNormal) {
    std::fill(data, data + n, fill == RandomFill::kOne ? 1.f : 0.f);
    return;
  }
  for (int64_t i = 0; i < n; ++i) data[i] = RandomWeightValue(seed, spec.name, first + i, stddev);
}

// Streams one dataset in C-order slabs of at most o.slab_elements: slabs fix the indices
// of the axes before `a`, take a block of axis `a`, and all of the axes after it, so every
// slab is one contiguous range of flat indices.
void WriteDataset(CheckpointWriter& w, const WeightSpec& spec, const RandomCheckpointOptions& o,
                  std::vector<float>& buf) {
  const RandomFill fill = RandomFillFor(spec);
  const std::vector<int64_t>& shape = spec.shape;
  const int rank = static_cast<int>(shape.size());
  if (rank == 0 || spec.num_elements == 0) {
    buf.assign(std::max<int64_t>(spec.num_elements, 1), 0.f);
    Fill(spec, fill, o.seed, o.stddev, 0, spec.num_elements, buf.data());
    w.Write(spec.name, buf.data());
    return;
  }
  std::vector<int64_t> stride(rank, 1);
  for (int i = rank - 2; i >= 0; --i) stride[i] = stride[i + 1] * shape[i + 1];
  int a = 0;
  while (a + 1 < rank && stride[a] > o.slab_elements) ++a;
  const int64_t block = std::max<int64_t>(1, o.slab_elements / stride[a]);
  std::vector<int64_t> start(rank, 0), count(shape);
  for (int i = 0; i <= a; ++i) count[i] = 1;
  // Odometer over the axes before `a` and the blocks of axis `a`.
  while (true) {
    count[a] = std::min(block, shape[a] - start[a]);
    int64_t first = 0, n = count[a] * stride[a];
    for (int i = 0; i < rank; ++i) first += start[i] * stride[i];
    buf.resize(n);
    Fill(spec, fill, o.seed, o.stddev, first, n, buf.data());
    w.WriteSlab(spec.name, start, count, buf.data());
    start[a] += count[a];
    int i = a;
    while (i >= 0 && start[i] >= shape[i]) {
      start[i] = 0;
      if (--i >= 0) ++start[i];
    }
    if (i < 0) break;
  }
}

}  // namespace

RandomFill RandomFillFor(const WeightSpec& spec) {
  switch (spec.role) {
    case WeightRole::kMatrix: return RandomFill::kNormal;
    case WeightRole::kBias: return RandomFill::kZero;
    case WeightRole::kRmsNormScale: return RandomFill::kZero;
    case WeightRole::kLayerNormScale: return RandomFill::kOne;
  }
  return RandomFill::kNormal;
}

float RandomWeightValue(uint64_t seed, const std::string& name, int64_t index, float stddev) {
  const uint64_t stream = NameStream(name);
  const uint64_t i = static_cast<uint64_t>(index);
  // Box-Muller; 1 - u is in (0, 1], so the log is finite.
  const double u1 = 1.0 - CounterUniform(seed, stream, 2 * i);
  const double u2 = CounterUniform(seed, stream, 2 * i + 1);
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  return static_cast<float>(z * stddev);
}

int64_t WriteRandomCheckpoint(const ModelConfig& config, const std::string& output,
                              const RandomCheckpointOptions& o) {
  PG_CHECK(!output.empty(), "random checkpoint: no output path given");
  PG_CHECK(std::isfinite(o.stddev) && o.stddev > 0, "random checkpoint: stddev must be > 0, got " << o.stddev);
  PG_CHECK(o.slab_elements >= 1, "random checkpoint: slab_elements must be >= 1, got " << o.slab_elements);
  config.Validate(config.name);
  const std::string tmp = output + ".tmp";
  std::remove(tmp.c_str());
  int64_t weights = 0;
  try {
    {
      CheckpointWriter w(tmp, config, o.dtype);
      std::vector<float> buf;
      for (const WeightSpec& spec : w.table()) {
        WriteDataset(w, spec, o, buf);
        weights += spec.num_elements;
        if (o.log) {
          std::ostringstream os;
          os << spec.name << " " << ShapeStr(spec.shape) << " "
             << (RandomFillFor(spec) == RandomFill::kNormal ? "normal"
                 : RandomFillFor(spec) == RandomFill::kOne  ? "ones"
                                                            : "zeros");
          o.log(os.str());
        }
      }
      w.Finish();
    }
    CheckpointReader check(tmp);  // the validation every loader runs
    PG_CHECK(std::rename(tmp.c_str(), output.c_str()) == 0,
             "random checkpoint: cannot rename '" << tmp << "' to '" << output << "' (" << std::strerror(errno)
                                                  << ")");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  return weights;
}

}  // namespace pg
