// The one declarative weight table of a PaliGemma checkpoint: every dataset's name (the
// HDF5 path, equal to the big_vision npz key without "params/"), its shape as a function
// of ModelConfig, and its tensor-parallel shard rule. The HDF5 writer and reader, the npz
// and HF converters, `paligemma inspect` and the model loader all read this table.
//
// Shapes keep big_vision's stacked ("scan") layout: per-layer tensors have a leading layer
// axis. Letters: L text depth, N heads, K kv heads, D width, H head_dim, F mlp, V vocab;
// Lv, Dv, Nv, Hv = Dv/Nv, Fv, P patch, Np patches for the vision tower.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.h"

namespace pg {

struct WeightSpec {
  std::string name;            // e.g. "llm/layers/attn/q_einsum/w"
  std::vector<int64_t> shape;  // from the config
  int shard_axis = -1;         // -1 = replicated across the TP group, else the axis split evenly
  const char* shard_what = "";  // what the shard axis counts, e.g. "query heads" (for messages)
  // Shard rule "split if divisible, else replicate": when true and shape[shard_axis] is not
  // divisible by tp, the tensor is replicated instead of being an error (the KV projection:
  // with multi-query attention K = 1 every rank holds the one KV head). When tp is a multiple
  // of that dim (Gemma 2: 4 kv heads at tp 8) the loader reads it whole but keeps only the one
  // slice its query heads use (models/gemma.cc KvHeadsForRank), as vLLM replicates KV heads.
  // ReplicatedSlices gives that factor.
  bool replicate_if_indivisible = false;
  bool stacked = false;        // axis 0 is the layer index
  int64_t num_elements = 0;    // product of shape (overflow-checked when the table is built)
};

// Every dataset of a checkpoint for `c`, in a fixed order (vision tower, projector, decoder).
// Throws if a shape's element count would overflow int64.
std::vector<WeightSpec> WeightTable(const ModelConfig& c);

// Throws pg::Error naming `name` if it is not in the table.
const WeightSpec& FindWeight(const std::vector<WeightSpec>& table, const std::string& name);

// The axis split at tensor-parallel size tp_size, or -1 when the tensor is replicated there.
// Throws (naming the model, the count, the dataset and the axis) if the axis must be split
// but is not divisible by tp_size.
int EffectiveShardAxis(const WeightSpec& spec, int tp_size, const std::string& model_name);

// The [start, count] hyperslab that rank tp_rank of tp_size holds (the whole tensor if
// replicated). Throws e.g. "model 'X': 8 query heads (llm/layers/attn/q_einsum/w axis 1)
// are not divisible by tp 3".
struct Slab {
  std::vector<int64_t> start, count;
};
Slab ShardSlab(const WeightSpec& spec, int tp_rank, int tp_size, const std::string& model_name);
Slab WholeSlab(const WeightSpec& spec);

// 1, or shape[shard_axis] when each rank keeps one slice of a replicate_if_indivisible tensor
// along that axis at tp_size (dim < tp_size, tp_size % dim == 0).
int64_t ReplicatedSlices(const WeightSpec& spec, int tp_size);

// Element counts one rank holds at tp_size: split tensors contribute 1/tp of their
// elements, replicated ones all of them (one slice of them, see ReplicatedSlices). Throws like
// ShardSlab if tp does not divide.
struct RankElements {
  int64_t sharded = 0;
  int64_t replicated = 0;
  int64_t total() const { return sharded + replicated; }
};
RankElements PerRankElements(const std::vector<WeightSpec>& table, int tp_size, const std::string& model_name);

// Product of `shape`; throws naming `what` on a negative dim or int64 overflow.
int64_t CheckedNumElements(const std::vector<int64_t>& shape, const std::string& what);

}  // namespace pg
