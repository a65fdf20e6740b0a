// Opens and validates a paligemma-tp HDF5 checkpoint (see checkpoint_writer.h for the
// format) and reads weights, whole or one tensor-parallel rank's hyperslab, as f32.
//
// The constructor validates everything before any weight is read:
//   - the file exists, is HDF5 (an npz/safetensors/random file gets a clear message), opens
//     (a truncated file is an error naming the file);
//   - root attributes "format" == "paligemma-tp/1", "dtype" in {f32, bf16}, "config" parses
//     as ModelConfig JSON;
//   - the datasets are exactly the weight table's: none missing, none extra, each with the
//     exact shape and the float type of the recorded dtype; no soft/external links, no
//     external or virtual storage.
// Every failure is a pg::Error naming the file and the dataset; HDF5's own error printing
// is silenced. The HDF5 library is the serial, non-thread-safe build: use a reader from one
// thread at a time (every MPI rank opens its own reader; read-only opens take no file lock).
//
// Loader use:
//   CheckpointReader ckpt(path);
//   ckpt.set_check_finite(true);                  // optional: NaN/Inf -> error
//   const WeightSpec& s = FindWeight(ckpt.table(), "llm/layers/attn/q_einsum/w");
//   std::vector<float> q = ckpt.ReadF32(s.name, ShardSlab(s, tp_rank, tp_size, ckpt.config().name));
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/strided_dest.h"
#include "models/model_config.h"
#include "models/weight_table.h"
#include "runtime/check.h"
#include "runtime/dtype.h"

namespace pg {

class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& path);
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const ModelConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }  // the stored element type
  const std::string& path() const { return path_; }
  const std::vector<WeightSpec>& table() const { return table_; }

  // When on, every read scans its values and throws naming the dataset and the element
  // index of the first NaN/Inf. Off by default (a full scan of a 3B model costs ~1 s/GB).
  void set_check_finite(bool on) { check_finite_ = on; }
  bool check_finite() const { return check_finite_; }

  // The hyperslab `slab` of dataset `name` as f32 (bf16 widened exactly), C order, shape
  // slab.count. Reads only the slab's chunks.
  std::vector<float> ReadF32(const std::string& name, const Slab& slab) const;
  // The whole dataset.
  std::vector<float> ReadF32(const std::string& name) const;
  // Same as ReadF32, into caller memory of NumElements(slab.count) floats.
  void ReadF32Into(const std::string& name, const Slab& slab, float* out) const;

  // The hyperslab as raw bf16 words (for bf16 device backends): the stored words of a bf16
  // checkpoint, or f32 values rounded to nearest even. Half the host memory of ReadF32.
  std::vector<uint16_t> ReadBf16(const std::string& name, const Slab& slab) const;
  void ReadBf16Into(const std::string& name, const Slab& slab, uint16_t* out) const;

  // The hyperslab straight into its final place (the weight loader): its elements in C order
  // as dst.rows runs, run r at dst.data + r * dst.stride, in dst.dtype (f32 or bf16, converted
  // in bounded blocks on `threads` threads when it differs from the stored type; see
  // io/hdf5_strided_read.h). No host copy of the slab is made when the types agree.
  // dst.stride 0: contiguous runs.
  void ReadInto(const std::string& name, const Slab& slab, const h5::StridedDest& dst, int threads = 1) const;

 private:
  struct State;
  void OpenAndValidate();
  std::string path_;
  ModelConfig config_;
  DType dtype_ = DType::kF32;
  std::vector<WeightSpec> table_;
  std::unique_ptr<State> state_;
  bool check_finite_ = false;
};

}  // namespace pg
