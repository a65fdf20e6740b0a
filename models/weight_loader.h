// WeightLoader: reads this rank's slice of the stacked checkpoint datasets (one layer at a
// time, only this tensor-parallel rank's heads / MLP columns / vocabulary rows, through an
// HDF5 hyperslab) straight into the backend's storage for the weight, in the layout and dtype
// the layers compute with. No host copy of a tensor is made: Backend::StageWeight hands out
// the weight's memory (the CPU backend: its own storage, bf16 when it keeps bf16), the reader
// writes each hyperslab into its final rows / columns (fused Q|K|V, gate|up), and
// Backend::FinishWeight adopts it. Only an f32 <-> bf16 conversion goes through a bounded
// staging buffer (io/hdf5_strided_read.h). tests/weight_load_memory_test.cc holds the peak.
#pragma once

#include <string>
#include <vector>

#include "models/checkpoint_reader.h"
#include "models/weight_table.h"
#include "runtime/backend.h"

namespace pg {

class WeightLoader {
 public:
  // threads: for f32 <-> bf16 conversion only (HDF5 itself runs on the calling thread).
  WeightLoader(const CheckpointReader& reader, Backend& backend, int tp_rank, int tp_size, int threads = 1);

  // Whole dataset, replicated on every rank, as a weight of shape `shape` (same numel).
  Tensor Whole(const std::string& name, std::vector<int64_t> shape);
  // Layer `layer` of a stacked dataset [L, ...]; this rank's shard when `sharded`.
  Tensor Layer(const std::string& name, int layer, bool sharded, std::vector<int64_t> shape, const std::string& tag);
  // This rank's rows of a dataset split on axis 0 (the vocabulary-parallel embedding).
  Tensor Rows(const std::string& name, std::vector<int64_t> shape, int64_t* row_offset);

  // Building a fused weight in place:
  //   Tensor w = ld.Stage(tag, {D, width});
  //   ld.ReadColumns(name, slab, w, col0);   // once per part
  //   Tensor done = ld.Finish(std::move(w));
  // The hyperslab of layer `layer` of stacked dataset `name` (leading count 1): this rank's
  // shard when `sharded`, else the whole layer.
  Slab LayerSlab(const std::string& name, int layer, bool sharded) const;
  Tensor Stage(const std::string& tag, std::vector<int64_t> shape);
  // The slab's elements (C order) into staged `dst` viewed as [rows, dst.dim(-1)] (rows =
  // dst.numel() / dst.dim(-1)): run r of slab_numel / rows elements into row r, columns
  // [col0, col0 + slab_numel / rows).
  void ReadColumns(const std::string& name, const Slab& slab, Tensor& dst, int64_t col0);
  Tensor Finish(Tensor staged);

  Backend& backend() { return backend_; }
  int tp_rank() const { return tp_rank_; }
  int tp_size() const { return tp_size_; }
  // Bytes of the weights this loader made, as the backend stores them.
  size_t bytes_loaded() const { return bytes_loaded_; }

 private:
  Tensor ReadWhole(const std::string& name, const Slab& slab, std::vector<int64_t> shape, const std::string& tag);

  const CheckpointReader& reader_;
  Backend& backend_;
  std::vector<WeightSpec> table_;
  int tp_rank_, tp_size_, threads_;
  size_t bytes_loaded_ = 0;
};

}  // namespace pg
