// The one declarative weight table of a PaliGemma checkpoint. Each entry declares:
//   - the dataset name: the HDF5 path, equal to the big_vision npz key without "params/";
//   - its shape as a function of ModelConfig (big_vision's stacked "scan" layout: per-layer
//     tensors have a leading layer axis);
//   - the Hugging Face tensors it is made from: their on-Hub names and transformers >= 4.52
//     names, their shapes, and the re-layout from HF to big_vision (transformers'
//     convert_paligemma*_weights_to_hf.py in reverse, MODEL_FACTS 3.2 and 4);
//   - its placement over a tensor-parallel group (split by query heads, kv heads, MLP columns
//     or vocabulary rows; replicated; or leader-only for the ViT and projector);
//   - its role (matrix, bias, RMSNorm or LayerNorm scale), which fixes its random init.
// The HDF5 writer and reader, the npz and HF converters, the random checkpoint writer,
// `paligemma inspect`, the divisibility check and the model loader all read this table.
//
// Letters: L text depth, N heads, K kv heads, D width, H head_dim, F mlp, V vocab;
// Lv, Dv, Nv, Hv = Dv/Nv, Fv, P patch, Np patches for the vision tower.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_config.h"

namespace pg {

// Where a weight lives in a tensor-parallel group of tp ranks.
enum class Placement {
  kReplicated,   // whole on every rank (the decoder's norms)
  kQueryHeads,   // split evenly by query heads
  kKvHeads,      // split by kv heads when tp divides them; else whole, each rank keeping the
                 // one head its query heads use when tp is a multiple of them (ReplicatedSlices)
  kMlpColumns,   // split evenly by MLP columns
  kVocabRows,    // split evenly by vocabulary rows (the embedding, tied with the LM head)
  kLeaderOnly,   // the ViT and projector: never split. Whole on the tp leader only with
                 // --vit leader; whole on every rank with --vit sharded (which splits images)
};
// "query heads", "key/value heads", "MLP columns", "vocabulary rows", "replicated", "leader-only".
const char* PlacementName(Placement p);

// What the values mean; fixes the random init that keeps a layer an identity map.
enum class WeightRole {
  kMatrix,          // kernels, embeddings: N(0, stddev^2)
  kBias,            // 0
  kRmsNormScale,    // Gemma RMSNorm multiplies by (1 + scale): 0
  kLayerNormScale,  // SigLIP LayerNorm multiplies by scale: 1
};

// How an HF tensor's values are laid out relative to the slab of the dataset it fills.
enum class HfTransform {
  kCopy,        // same element order (norms, biases, pos embedding, embedding rows)
  kTranspose,   // src [R, C] -> dst [C, R] (fc1/fc2, gate/up/down, o_proj, ViT q/k/v/out, projector)
  kHeadsToGDH,  // src [G*H, D] -> dst [G, D, H] (Gemma q_proj, k_proj, v_proj)
  kPatchEmbed,  // src [Dv, 3, P, P] (OIHW) -> dst [P, P, 3, Dv] (HWIO)
};

// One HF tensor that fills (one layer of, for stacked datasets) a dataset.
struct HfSource {
  std::string hub_name;        // on-Hub name; "{l}" stands for the layer index when stacked
  std::string current_name;    // the transformers >= 4.52 spelling (HfCurrentName(hub_name))
  int64_t part = -1;           // >= 0: fills index `part` of axis 1 (k|v, gate|up)
  std::vector<int64_t> shape;  // the HF tensor's shape
  HfTransform transform = HfTransform::kCopy;
  int64_t head_dim = 0;        // kHeadsToGDH: H
  bool extra_rows_ok = false;  // the embedding: HF pads it with rows beyond the vocabulary
};

struct WeightSpec {
  std::string name;            // e.g. "llm/layers/attn/q_einsum/w"
  std::vector<int64_t> shape;  // from the config
  int shard_axis = -1;         // -1 = not split (replicated or leader-only), else the axis split evenly
  const char* shard_what = "";  // what the shard axis counts, e.g. "query heads" (for messages)
  // Shard rule "split if divisible, else replicate" (Placement::kKvHeads): when true and
  // shape[shard_axis] is not divisible by tp, the tensor is replicated instead of being an
  // error (multi-query attention K = 1: every rank holds the one KV head). When tp is a
  // multiple of that dim (Gemma 2: 4 kv heads at tp 8) the loader reads it whole but keeps only
  // the one slice its query heads use, as vLLM replicates KV heads. ReplicatedSlices gives that factor.
  bool replicate_if_indivisible = false;
  bool stacked = false;        // axis 0 is the layer index
  int64_t num_elements = 0;    // product of shape (overflow-checked when the table is built)
  Placement placement = Placement::kReplicated;
  WeightRole role = WeightRole::kMatrix;
  std::vector<HfSource> hf;    // the HF tensors it is made from (per layer when stacked)
  std::string hf_tied;         // an HF tensor that must equal this one (the tied LM head), or ""
};

// Every dataset of a checkpoint for `c`, in a fixed order (vision tower, projector, decoder).
// Throws if a shape's element count would overflow int64.
std::vector<WeightSpec> WeightTable(const ModelConfig& c);

// Throws pg::Error naming `name` if it is not in the table.
const WeightSpec& FindWeight(const std::vector<WeightSpec>& table, const std::string& name);

// transformers >= 4.52 moved the module tree: on-Hub prefix -> current prefix
// ("language_model.model." -> "model.language_model.", ...). The one list of these renames.
struct HfPrefixRename {
  const char* hub;
  const char* current;
};
const std::vector<HfPrefixRename>& HfPrefixRenames();
std::string HfCurrentName(const std::string& hub_name);
// The tied output head's on-Hub name ("language_model.lm_head.weight").
extern const char* const kHfTiedLmHead;
// hub_name with "{l}" replaced by the layer index.
std::string HfLayerName(const std::string& hub_name, int64_t layer);

// The axis split at tensor-parallel size tp_size, or -1 when the tensor is not split there.
// Throws (naming the model, the count, the dataset and the axis) if the axis must be split
// but is not divisible by tp_size.
int EffectiveShardAxis(const WeightSpec& spec, int tp_size, const std::string& model_name);

// The one tensor-parallel divisibility check, derived from the table's placements: every
// split count (query heads, MLP columns, vocabulary rows) must be divisible by tp, and the kv
// heads must divide tp or be divisible by it. Throws the first failure in that order, e.g.
//   "model 'tiny': 8 query heads are not divisible by --tp 3 (world size 3); use a --tp that
//    divides 8 (1, 2, 4, 8)"
// world_size < 0: taken from MPI_COMM_WORLD when MPI is running, else left out.
void CheckTensorParallel(const ModelConfig& c, int tp, int world_size = -1);

// The [start, count] hyperslab that rank tp_rank of tp_size holds (the whole tensor if not
// split). Throws e.g. "model 'X': 8 query heads (llm/layers/attn/q_einsum/w axis 1)
// are not divisible by tp 3".
struct Slab {
  std::vector<int64_t> start, count;
};
Slab ShardSlab(const WeightSpec& spec, int tp_rank, int tp_size, const std::string& model_name);
Slab WholeSlab(const WeightSpec& spec);

// 1, or shape[shard_axis] when each rank keeps one slice of a replicate_if_indivisible tensor
// along that axis at tp_size (dim < tp_size, tp_size % dim == 0).
int64_t ReplicatedSlices(const WeightSpec& spec, int tp_size);

// Element counts one rank holds at tp_size, as the loader places them: split tensors
// contribute 1/tp of their elements, replicated ones all of them (one slice of them, see
// ReplicatedSlices), leader-only ones (ViT + projector) all of them on a rank that loads the
// ViT and nothing elsewhere. Throws like ShardSlab if tp does not divide.
struct RankElements {
  int64_t sharded = 0;
  int64_t replicated = 0;
  int64_t leader_only = 0;
  int64_t total() const { return sharded + replicated + leader_only; }
};
// holds_vit: the tp leader, or every rank with --vit sharded.
RankElements PerRankElements(const std::vector<WeightSpec>& table, int tp_size, const std::string& model_name,
                             bool holds_vit);
// The tp leader's view (holds_vit = true).
RankElements PerRankElements(const std::vector<WeightSpec>& table, int tp_size, const std::string& model_name);

}  // namespace pg
