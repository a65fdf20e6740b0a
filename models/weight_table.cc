#include "models/weight_table.h"

#include "models/weight_names.h"

#include <limits>

#include "dist/world.h"
#include "runtime/check.h"

namespace pg {

namespace wn = weight_names;

const char* const kHfTiedLmHead = "language_model.lm_head.weight";

const char* PlacementName(Placement p) {
  switch (p) {
    case Placement::kReplicated: return "replicated";
    case Placement::kQueryHeads: return "query heads";
    case Placement::kKvHeads: return "key/value heads";
    case Placement::kMlpColumns: return "MLP columns";
    case Placement::kVocabRows: return "vocabulary rows";
    case Placement::kLeaderOnly: return "leader-only";
  }
  return "?";
}

const std::vector<HfPrefixRename>& HfPrefixRenames() {
  static const std::vector<HfPrefixRename> kRenames = {
      {"language_model.model.", "model.language_model."},
      {"vision_tower.", "model.vision_tower."},
      {"multi_modal_projector.", "model.multi_modal_projector."},
      {"language_model.lm_head.", "lm_head."},
  };
  return kRenames;
}

std::string HfCurrentName(const std::string& hub_name) {
  for (const HfPrefixRename& r : HfPrefixRenames()) {
    const std::string hub = r.hub;
    if (hub_name.rfind(hub, 0) == 0) return r.current + hub_name.substr(hub.size());
  }
  return hub_name;
}

std::string HfLayerName(const std::string& hub_name, int64_t layer) {
  const size_t at = hub_name.find("{l}");
  if (at == std::string::npos) return hub_name;
  return hub_name.substr(0, at) + std::to_string(layer) + hub_name.substr(at + 3);
}


namespace {

using T = HfTransform;
using Pl = Placement;
using R = WeightRole;

class TableBuilder {
 public:
  explicit TableBuilder(const ModelConfig& c) : c_(c) {}

  // A dataset; `axis` is the split axis of a split placement (-1 otherwise).
  WeightSpec& Add(std::string name, std::vector<int64_t> shape, R role, Pl placement, int axis = -1,
                  bool stacked = false) {
    const bool split = placement != Pl::kReplicated && placement != Pl::kLeaderOnly;
    PG_CHECK(split == (axis >= 0), "weight table: '" << name << "' placement " << PlacementName(placement)
                                                     << " with split axis " << axis);
    WeightSpec s;
    s.name = std::move(name);
    s.shape = std::move(shape);
    s.role = role;
    s.placement = placement;
    s.shard_axis = axis;
    s.shard_what = split ? PlacementName(placement) : "";
    s.replicate_if_indivisible = placement == Pl::kKvHeads;
    s.stacked = stacked;
    const std::string what_msg = "model '" + c_.name + "': weight '" + s.name + "'";
    s.num_elements = CheckedNumElements(s.shape, what_msg);
    // Every consumer may hold it as f32: the byte count must fit too.
    PG_CHECK(s.num_elements <= std::numeric_limits<int64_t>::max() / 4,
             what_msg << " with shape " << ShapeStr(s.shape) << " is too large");
    table_.push_back(std::move(s));
    return table_.back();
  }
  // A per-layer tensor: leading layer axis; its HF sources are per layer ("{l}").
  WeightSpec& AddStacked(std::string name, std::vector<int64_t> shape, R role, Pl placement, int axis = -1) {
    return Add(std::move(name), std::move(shape), role, placement, axis, true);
  }
  std::vector<WeightSpec> Take() { return std::move(table_); }

 private:
  const ModelConfig& c_;
  std::vector<WeightSpec> table_;
};

// Adds the HF tensor `hub` (shape `shape`) that fills `s` (one layer of it when stacked;
// index `part` of axis 1 when part >= 0).
HfSource& Hf(WeightSpec& s, std::string hub, std::vector<int64_t> shape, T transform = T::kCopy, int64_t part = -1) {
  HfSource h;
  h.current_name = HfCurrentName(hub);
  h.hub_name = std::move(hub);
  h.shape = std::move(shape);
  h.transform = transform;
  h.part = part;
  s.hf.push_back(std::move(h));
  return s.hf.back();
}

void AddVision(const ModelConfig& c, TableBuilder& t) {
  const VisionConfig& v = c.vision;
  const int64_t Lv = v.depth, Dv = v.width, Nv = v.num_heads, Hv = v.head_dim(), Fv = v.mlp_dim;
  const int64_t P = v.patch_size, Np = v.num_patches(), D = c.text.width;
  const std::string vm = "vision_tower.vision_model.", hl = vm + "encoder.layers.{l}.";
  const Pl lead = Pl::kLeaderOnly;
  Hf(t.Add(wn::kPatchKernel, {P, P, 3, Dv}, R::kMatrix, lead),  // Conv HWIO
     vm + "embeddings.patch_embedding.weight", {Dv, 3, P, P}, T::kPatchEmbed);
  Hf(t.Add(wn::kPatchBias, {Dv}, R::kBias, lead), vm + "embeddings.patch_embedding.bias", {Dv});
  Hf(t.Add(wn::kPosEmbedding, {1, Np, Dv}, R::kMatrix, lead), vm + "embeddings.position_embedding.weight",
     {Np, Dv});
  const struct {
    const char *scale, *bias, *hf;
  } norms[] = {{wn::kVitLn0Scale, wn::kVitLn0Bias, "layer_norm1"}, {wn::kVitLn1Scale, wn::kVitLn1Bias, "layer_norm2"}};
  for (const auto& n : norms) {
    Hf(t.AddStacked(n.scale, {Lv, Dv}, R::kLayerNormScale, lead), hl + n.hf + ".weight", {Dv});
    Hf(t.AddStacked(n.bias, {Lv, Dv}, R::kBias, lead), hl + n.hf + ".bias", {Dv});
  }
  const struct {
    const char *kernel, *bias, *hf;
  } qkv[] = {{wn::kVitQueryKernel, wn::kVitQueryBias, "q_proj"},
             {wn::kVitKeyKernel, wn::kVitKeyBias, "k_proj"},
             {wn::kVitValueKernel, wn::kVitValueBias, "v_proj"}};
  for (const auto& p : qkv) {
    // HF weight = kernel[l].reshape(Dv, Nv*Hv).T
    Hf(t.AddStacked(p.kernel, {Lv, Dv, Nv, Hv}, R::kMatrix, lead), hl + "self_attn." + p.hf + ".weight",
       {Nv * Hv, Dv}, T::kTranspose);
    Hf(t.AddStacked(p.bias, {Lv, Nv, Hv}, R::kBias, lead), hl + "self_attn." + p.hf + ".bias", {Nv * Hv});
  }
  // HF weight = kernel[l].reshape(Nv*Hv, Dv).T
  Hf(t.AddStacked(wn::kVitOutKernel, {Lv, Nv, Hv, Dv}, R::kMatrix, lead), hl + "self_attn.out_proj.weight",
     {Dv, Nv * Hv}, T::kTranspose);
  Hf(t.AddStacked(wn::kVitOutBias, {Lv, Dv}, R::kBias, lead), hl + "self_attn.out_proj.bias", {Dv});
  Hf(t.AddStacked(wn::kVitFc1Kernel, {Lv, Dv, Fv}, R::kMatrix, lead), hl + "mlp.fc1.weight", {Fv, Dv},
     T::kTranspose);
  Hf(t.AddStacked(wn::kVitFc1Bias, {Lv, Fv}, R::kBias, lead), hl + "mlp.fc1.bias", {Fv});
  Hf(t.AddStacked(wn::kVitFc2Kernel, {Lv, Fv, Dv}, R::kMatrix, lead), hl + "mlp.fc2.weight", {Dv, Fv},
     T::kTranspose);
  Hf(t.AddStacked(wn::kVitFc2Bias, {Lv, Dv}, R::kBias, lead), hl + "mlp.fc2.bias", {Dv});
  Hf(t.Add(wn::kVitNormScale, {Dv}, R::kLayerNormScale, lead), vm + "post_layernorm.weight", {Dv});
  Hf(t.Add(wn::kVitNormBias, {Dv}, R::kBias, lead), vm + "post_layernorm.bias", {Dv});
  // The multimodal projector.
  Hf(t.Add(wn::kProjectorKernel, {Dv, D}, R::kMatrix, lead), "multi_modal_projector.linear.weight", {D, Dv},
     T::kTranspose);
  Hf(t.Add(wn::kProjectorBias, {D}, R::kBias, lead), "multi_modal_projector.linear.bias", {D});
}

void AddText(const ModelConfig& c, TableBuilder& t) {
  const TextConfig& x = c.text;
  const int64_t L = x.depth, N = x.num_heads, K = x.num_kv_heads, D = x.width, H = x.head_dim;
  const int64_t F = x.mlp_dim, V = x.vocab_size;
  const std::string lm = "language_model.model.", hl = lm + "layers.{l}.";
  WeightSpec& emb = t.Add(wn::kEmbedding, {V, D}, R::kMatrix, Pl::kVocabRows, 0);
  Hf(emb, lm + "embed_tokens.weight", {V, D}).extra_rows_ok = true;
  emb.hf_tied = kHfTiedLmHead;
  // q_proj = q_einsum[l].transpose(0, 2, 1).reshape(N*H, D)
  Hf(t.AddStacked(wn::kQEinsum, {L, N, D, H}, R::kMatrix, Pl::kQueryHeads, 1),
     hl + "self_attn.q_proj.weight", {N * H, D}, T::kHeadsToGDH).head_dim = H;
  // k_proj / v_proj = kv_einsum[l, 0 / 1] ([K, D, H]) -> [K*H, D]
  WeightSpec& kv = t.AddStacked(wn::kKvEinsum, {L, 2, K, D, H}, R::kMatrix, Pl::kKvHeads, 2);
  Hf(kv, hl + "self_attn.k_proj.weight", {K * H, D}, T::kHeadsToGDH, 0).head_dim = H;
  Hf(kv, hl + "self_attn.v_proj.weight", {K * H, D}, T::kHeadsToGDH, 1).head_dim = H;
  // o_proj [D, N*H] = attn_vec_einsum[l] ([N, H, D]) -> transpose(2, 0, 1)
  Hf(t.AddStacked(wn::kAttnVecEinsum, {L, N, H, D}, R::kMatrix, Pl::kQueryHeads, 1),
     hl + "self_attn.o_proj.weight", {D, N * H}, T::kTranspose);
  WeightSpec& gating = t.AddStacked(wn::kGatingEinsum, {L, 2, D, F}, R::kMatrix, Pl::kMlpColumns, 3);
  Hf(gating, hl + "mlp.gate_proj.weight", {F, D}, T::kTranspose, 0);
  Hf(gating, hl + "mlp.up_proj.weight", {F, D}, T::kTranspose, 1);
  Hf(t.AddStacked(wn::kMlpLinear, {L, F, D}, R::kMatrix, Pl::kMlpColumns, 1), hl + "mlp.down_proj.weight",
     {D, F}, T::kTranspose);
  const R rms = R::kRmsNormScale;
  const Pl rep = Pl::kReplicated;
  Hf(t.AddStacked(wn::kPreAttentionNorm, {L, D}, rms, rep), hl + "input_layernorm.weight", {D});
  // Gemma 1 trap: HF "post_attention_layernorm" is big_vision's pre_ffw_norm; Gemma 2 names
  // each of its four norms.
  Hf(t.AddStacked(wn::kPreFfwNorm, {L, D}, rms, rep),
     hl + (x.post_norms ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), {D});
  if (x.post_norms) {
    Hf(t.AddStacked(wn::kPostAttentionNorm, {L, D}, rms, rep), hl + "post_attention_layernorm.weight",
       {D});
    Hf(t.AddStacked(wn::kPostFfwNorm, {L, D}, rms, rep), hl + "post_feedforward_layernorm.weight",
       {D});
  }
  Hf(t.Add(wn::kFinalNorm, {D}, rms, rep), lm + "norm.weight", {D});
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

void CheckTensorParallel(const ModelConfig& c, int tp, int world_size) {
  const std::vector<WeightSpec> table = WeightTable(c);
  const auto count_of = [&](Placement p) -> int64_t {
    for (const WeightSpec& s : table)
      if (s.placement == p) return s.shape.at(s.shard_axis);
    return 0;  // the model has no tensor split this way
  };
  for (Placement p : {Placement::kQueryHeads, Placement::kMlpColumns, Placement::kVocabRows}) {
    const int64_t n = count_of(p);
    if (n > 0) CheckDivides(PlacementName(p), static_cast<int>(n), tp, c.name, world_size);
  }
  // Split when tp divides them; replicated (one head kept per rank) when tp is a multiple.
  const int64_t k = count_of(Placement::kKvHeads);
  if (k > 0 && tp >= 1 && tp % k != 0)
    CheckDivides(PlacementName(Placement::kKvHeads), static_cast<int>(k), tp, c.name, world_size);
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

RankElements PerRankElements(const std::vector<WeightSpec>& table, int tp_size, const std::string& model_name,
                             bool holds_vit) {
  RankElements r;
  for (const WeightSpec& s : table) {
    if (s.placement == Placement::kLeaderOnly) {
      if (holds_vit) r.leader_only += s.num_elements;
    } else if (EffectiveShardAxis(s, tp_size, model_name) >= 0) {
      r.sharded += s.num_elements / tp_size;
    } else {
      r.replicated += s.num_elements / ReplicatedSlices(s, tp_size);
    }
  }
  return r;
}

RankElements PerRankElements(const std::vector<WeightSpec>& table, int tp_size, const std::string& model_name) {
  return PerRankElements(table, tp_size, model_name, /*holds_vit=*/true);
}

}  // namespace pg
