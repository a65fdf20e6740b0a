// Writes a paligemma-tp HDF5 checkpoint (format "paligemma-tp/1"):
//   - one dataset per weight-table entry, at its name ("llm/layers/attn/q_einsum/w"), in the
//     stacked big_vision layout, stored as IEEE f32 or a true HDF5 bf16 float type;
//   - root attributes "config" (ModelConfig JSON text), "dtype" ("f32"/"bf16"),
//     "format" ("paligemma-tp/1").
// Datasets are chunked so that one tensor-parallel rank's hyperslab of one layer is a few
// whole chunks (see ChunkShape), each chunk with a Fletcher-32 checksum (no compression).
// Data is given as f32 and rounded to nearest-even bf16.
//
//   CheckpointWriter w(path, config, DType::kBF16);
//   w.WriteSlab("llm/layers/mlp/linear", {l, 0, 0}, {1, F, D}, layer_l);  // layer by layer
//   w.Finish();  // throws naming every dataset not fully written
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "models/weight_table.h"
#include "runtime/dtype.h"

namespace pg {

inline constexpr const char* kCheckpointFormat = "paligemma-tp/1";

// Chunk dims for `spec` stored with elements of `elem_size` bytes: 1 layer for stacked
// tensors (and one part of axis 1 for datasets made of several HF tensors: k|v, gate|up);
// along the shard axis dim / gcd(dim, 64), so that every
// TP split into a divisor of 64 ranks is whole chunks; then shrunk (by divisors) to <= 8 MiB, or,
// where a dimension has no divisor within 8x of that size and no TP slab needs whole chunks along
// it, to the size itself (a partial last chunk) rather than to a tiny divisor.
std::vector<int64_t> ChunkShape(const WeightSpec& spec, size_t elem_size);

class CheckpointWriter {
 public:
  CheckpointWriter(const std::string& path, const ModelConfig& config, DType dtype);
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // data: the whole dataset, C order, shape spec.shape.
  void Write(const std::string& name, const float* data);
  // data: the hyperslab [start, start + count), C order, shape `count`. Each element of a
  // dataset must be written exactly once (overlapping slabs are an error).
  void WriteSlab(const std::string& name, const std::vector<int64_t>& start, const std::vector<int64_t>& count,
                 const float* data);
  // Checks every dataset was fully written, then closes the file. Throws naming the
  // datasets that were not (and how much of each was written).
  void Finish();

  const std::vector<WeightSpec>& table() const { return table_; }
  const std::string& path() const { return path_; }
  DType dtype() const { return dtype_; }

 private:
  struct Dataset;
  std::string path_;
  ModelConfig config_;
  DType dtype_;
  std::vector<WeightSpec> table_;
  std::map<std::string, std::unique_ptr<Dataset>> datasets_;
  struct FileState;
  std::unique_ptr<FileState> file_;
  bool finished_ = false;
};

}  // namespace pg
