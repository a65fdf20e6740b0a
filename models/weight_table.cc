#include "models/weight_table.h"

#include <limits>

#include "runtime/check.h"

namespace pg {

int64_t CheckedNumElements(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    PG_CHECK(d >= 0, what << ": negative dimension in shape " << ShapeStr(shape));
    PG_CHECK(!__builtin_mul_overflow(n, d, &n),
             what << ": shape " << ShapeStr(shape) << " has more elements than fit in 64 bits");
  }
  return n;
}

namespace {

class TableBuilder {
 public:
  explicit TableBuilder(const ModelConfig& c) : c_(c) {}

  void Add(std::string name, std::vector<int64_t> shape, int axis = -1, const char* what = "",
           bool stacked = false, bool replicate_if_indivisible = false) {
    WeightSpec s;
    s.name = std::move(name);
    s.shape = std::move(shape);
    s.shard_axis = axis;
    s.shard_what = what;
    s.stacked = stacked;
    s.replicate_if_indivisible = replicate_if_indivisible;
    const std::string what_msg = "model '" + c_.name + "': weight '" + s.name + "'";
    s.num_elements = CheckedNumElements(s.shape, what_msg);
    // Every consumer may hold it as f32: the byte count must fit too.
    PG_CHECK(s.num_elements <= std::numeric_limits<int64_t>::max() / 4,
             what_msg << " with shape " << ShapeStr(s.shape) << " is too large");
    table_.push_back(std::move(s));
  }
  // A per-layer tensor: leading layer axis.
  void AddStacked(std::string name, std::vector<int64_t> shape, int axis = -1, const char* what = "",
                  bool replicate_if_indivisible = false) {
    Add(std::move(name), std::move(shape), axis, what, true, replicate_if_indivisible);
  }
  std::vector<WeightSpec> Take() { return std::move(table_); }

 private:
  const ModelConfig& c_;
  std::vector<WeightSpec> table_;
};

void AddVision(const ModelConfig& c, TableBuilder& t) {
  const VisionConfig& v = c.vision;
  const int64_t Lv = v.depth, Dv = v.width, Nv = v.num_heads, Hv = v.head_dim(), Fv = v.mlp_dim;
  const int64_t P = v.patch_size, Np = v.num_patches();
  t.Add("img/embedding/kernel", {P, P, 3, Dv});  // Conv HWIO
  t.Add("img/embedding/bias", {Dv});
  t.Add("img/pos_embedding", {1, Np, Dv});
  const std::string blk = "img/Transformer/encoderblock/";
  for (const char* ln : {"LayerNorm_0", "LayerNorm_1"}) {
    t.AddStacked(blk + ln + "/scale", {Lv, Dv});
    t.AddStacked(blk + ln + "/bias", {Lv, Dv});
  }
  const std::string mha = blk + "MultiHeadDotProductAttention_0/";
  for (const char* proj : {"query", "key", "value"}) {
    t.AddStacked(mha + proj + "/kernel", {Lv, Dv, Nv, Hv}, 2, "ViT heads");
    t.AddStacked(mha + proj + "/bias", {Lv, Nv, Hv}, 1, "ViT heads");
  }
  t.AddStacked(mha + "out/kernel", {Lv, Nv, Hv, Dv}, 1, "ViT heads");
  t.AddStacked(mha + "out/bias", {Lv, Dv});
  const std::string mlp = blk + "MlpBlock_0/";
  t.AddStacked(mlp + "Dense_0/kernel", {Lv, Dv, Fv}, 2, "ViT MLP columns");
  t.AddStacked(mlp + "Dense_0/bias", {Lv, Fv}, 1, "ViT MLP columns");
  t.AddStacked(mlp + "Dense_1/kernel", {Lv, Fv, Dv}, 1, "ViT MLP columns");
  t.AddStacked(mlp + "Dense_1/bias", {Lv, Dv});
  t.Add("img/Transformer/encoder_norm/scale", {Dv});
  t.Add("img/Transformer/encoder_norm/bias", {Dv});
  t.Add("img/head/kernel", {Dv, c.text.width});  // the multimodal projector
  t.Add("img/head/bias", {c.text.width});
}

void AddText(const ModelConfig& c, TableBuilder& t) {
  const TextConfig& x = c.text;
  const int64_t L = x.depth, N = x.num_heads, K = x.num_kv_heads, D = x.width, H = x.head_dim;
  const int64_t F = x.mlp_dim, V = x.vocab_size;
  t.Add("llm/embedder/input_embedding", {V, D}, 0, "vocabulary rows");  // tied with the LM head
  t.AddStacked("llm/layers/attn/q_einsum/w", {L, N, D, H}, 1, "query heads");
  t.AddStacked("llm/layers/attn/kv_einsum/w", {L, 2, K, D, H}, 2, "key/value heads",
               /*replicate_if_indivisible=*/true);
  t.AddStacked("llm/layers/attn/attn_vec_einsum/w", {L, N, H, D}, 1, "query heads");
  t.AddStacked("llm/layers/mlp/gating_einsum", {L, 2, D, F}, 3, "MLP columns");
  t.AddStacked("llm/layers/mlp/linear", {L, F, D}, 1, "MLP columns");
  t.AddStacked("llm/layers/pre_attention_norm/scale", {L, D});
  t.AddStacked("llm/layers/pre_ffw_norm/scale", {L, D});
  if (x.post_norms) {
    t.AddStacked("llm/layers/post_attention_norm/scale", {L, D});
    t.AddStacked("llm/layers/post_ffw_norm/scale", {L, D});
  }
  t.Add("llm/final_norm/scale", {D});
}

}  // namespace

std::vector<WeightSpec> WeightTable(const ModelConfig& c) {
  TableBuilder t(c);
  AddVision(c, t);
  AddText(c, t);
  return t.Take();
}

const WeightSpec& FindWeight(const std::vector<WeightSpec>& table, const std::string& name) {
  for (const WeightSpec& s : table)
    if (s.name == name) return s;
  PG_THROW("weight '" << name << "' is not in the weight table");
}

int EffectiveShardAxis(const WeightSpec& spec, int tp_size, const std::string& model_name) {
  PG_CHECK(tp_size >= 1, "model '" << model_name << "': tensor-parallel size must be >= 1, got " << tp_size);
  if (spec.shard_axis < 0 || tp_size == 1) return spec.shard_axis < 0 ? -1 : spec.shard_axis;
  const int64_t dim = spec.shape.at(spec.shard_axis);
  if (dim % tp_size == 0) return spec.shard_axis;
  if (spec.replicate_if_indivisible) return -1;
  PG_THROW("model '" << model_name << "': " << dim << " " << spec.shard_what << " (" << spec.name << " axis "
                     << spec.shard_axis << ") are not divisible by tp " << tp_size);
}

Slab WholeSlab(const WeightSpec& spec) {
  return Slab{std::vector<int64_t>(spec.shape.size(), 0), spec.shape};
}

Slab ShardSlab(const WeightSpec& spec, int tp_rank, int tp_size, const std::string& model_name) {
  const int axis = EffectiveShardAxis(spec, tp_size, model_name);
  PG_CHECK(tp_rank >= 0 && tp_rank < tp_size,
           "model '" << model_name << "': tp rank " << tp_rank << " is outside [0, " << tp_size << ")");
  Slab s = WholeSlab(spec);
  if (axis < 0) return s;
  const int64_t part = spec.shape[axis] / tp_size;
  s.start[axis] = part * tp_rank;
  s.count[axis] = part;
  return s;
}

int64_t ReplicatedSlices(const WeightSpec& spec, int tp_size) {
  if (!spec.replicate_if_indivisible || spec.shard_axis < 0) return 1;
  const int64_t dim = spec.shape.at(spec.shard_axis);
  return dim < tp_size && tp_size % dim == 0 ? dim : 1;
}

RankElements PerRankElements(const std::vector<WeightSpec>& table, int tp_size, const std::string& model_name) {
  RankElements r;
  for (const WeightSpec& s : table) {
    if (EffectiveShardAxis(s, tp_size, model_name) >= 0)
      r.sharded += s.num_elements / tp_size;
    else
      r.replicated += s.num_elements / ReplicatedSlices(s, tp_size);
  }
  return r;
}

}  // namespace pg
