// WeightLoader: reads this rank's slice of the stacked checkpoint datasets (one layer at a
// time, only this tensor-parallel rank's heads / MLP columns / vocabulary rows, through an
// HDF5 hyperslab) and uploads it to the backend in the layout the layers compute with.
#pragma once

#include <string>
#include <vector>

#include "models/checkpoint_reader.h"
#include "models/weight_table.h"
#include "runtime/backend.h"

namespace pg {

class WeightLoader {
 public:
  WeightLoader(const CheckpointReader& reader, Backend& backend, int tp_rank, int tp_size);

  // Whole dataset, replicated on every rank, uploaded with shape `shape` (same numel).
  Tensor Whole(const std::string& name, std::vector<int64_t> shape);
  // Layer `layer` of a stacked dataset [L, ...]; this rank's shard when `sharded`.
  // Returns host values and fills `count` with the slab's shape (leading 1 for the layer).
  std::vector<float> LayerHost(const std::string& name, int layer, bool sharded, std::vector<int64_t>* count);
  Tensor Layer(const std::string& name, int layer, bool sharded, std::vector<int64_t> shape, const std::string& tag);
  // This rank's rows of a dataset split on axis 0 (the vocabulary-parallel embedding).
  Tensor Rows(const std::string& name, std::vector<int64_t> shape, int64_t* row_offset);

  Backend& backend() { return backend_; }
  int tp_rank() const { return tp_rank_; }
  int tp_size() const { return tp_size_; }
  size_t bytes_loaded() const { return bytes_loaded_; }

 private:
  const CheckpointReader& reader_;
  Backend& backend_;
  std::vector<WeightSpec> table_;
  int tp_rank_, tp_size_;
  size_t bytes_loaded_ = 0;
};

}  // namespace pg
