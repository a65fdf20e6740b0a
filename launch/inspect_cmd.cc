// paligemma inspect: validates an HDF5 checkpoint (the loader's checks) and prints its
// config, dtype, every dataset with its shape and placement, and what the ranks of a
// tensor-parallel group of size --tp hold as the loader places them: split tensors 1/tp each,
// replicated ones whole, and the ViT + projector (leader-only) whole on the tp leader only
// with --vit leader, or on every rank with --vit sharded. Bytes are given in the stored dtype
// and as f32 (the CPU backend holds weights as f32).
//
//   paligemma inspect --model paligemma-3b-pt-224.h5 --tp 4 [--vit leader|sharded]
#include <cstdio>
#include <string>

#include "launch/commands.h"
#include "models/checkpoint_reader.h"
#include "models/weight_table.h"
#include "runtime/check.h"
#include "tensor_parallel/image_token_broadcast.h"

namespace pg {
namespace {

struct InspectArgs {
  std::string model;
  int tp = 1;
  std::string vit = "leader";
};

std::string Bytes(int64_t elements, size_t elem_size) {
  char buf[64];
  const double b = static_cast<double>(elements) * static_cast<double>(elem_size);
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024));
  return buf;
}

// How `s` is placed at tp ranks, e.g. "split axis 1 (query heads) -> [18, 4, 2048, 256] per rank".
std::string PlacementRule(const WeightSpec& s, int tp, const std::string& model) {
  if (s.placement == Placement::kLeaderOnly) return "whole, on the ranks that load the ViT (leader-only)";
  const int axis = EffectiveShardAxis(s, tp, model);
  if (axis >= 0)
    return "split axis " + std::to_string(axis) + " (" + s.shard_what + ") -> " +
           ShapeStr(ShardSlab(s, 0, tp, model).count) + " per rank";
  if (ReplicatedSlices(s, tp) > 1)
    return "one of " + std::to_string(s.shape[s.shard_axis]) + " " + s.shard_what + " per rank (" +
           std::to_string(tp / s.shape[s.shard_axis]) + " ranks keep each)";
  if (s.shard_axis >= 0)
    return "replicated (" + std::to_string(s.shape[s.shard_axis]) + " " + s.shard_what + " not divisible by tp " +
           std::to_string(tp) + ")";
  return "replicated";
}

void PrintRank(const char* who, const RankElements& r, size_t es, const char* dtype) {
  std::printf("  %-9s %14lld %14lld %14lld %14lld  %12s %s  %12s f32\n", who, static_cast<long long>(r.sharded),
              static_cast<long long>(r.replicated), static_cast<long long>(r.leader_only),
              static_cast<long long>(r.total()), Bytes(r.total(), es).c_str(), dtype, Bytes(r.total(), 4).c_str());
}

void RunInspect(const InspectArgs& a) {
  PG_CHECK(a.tp >= 1, "inspect: --tp must be >= 1, got " << a.tp);
  const VitPlacement vit = ParseVitPlacement(a.vit);
  CheckpointReader ckpt(a.model);
  const ModelConfig& c = ckpt.config();
  CheckTensorParallel(c, a.tp);
  const size_t es = DTypeSize(ckpt.dtype());
  const char* dtype = DTypeName(ckpt.dtype());
  std::printf("checkpoint: %s\nformat: paligemma-tp/1\ndtype: %s\nconfig:\n%s\n", ckpt.path().c_str(), dtype,
              c.ToJsonText().c_str());
  std::printf("\ndatasets (%zu), placement at tp=%d:\n", ckpt.table().size(), a.tp);
  int64_t total = 0;
  for (const WeightSpec& s : ckpt.table()) {
    total += s.num_elements;
    std::printf("  %-72s %-26s %s\n", s.name.c_str(), ShapeStr(s.shape).c_str(), PlacementRule(s, a.tp, c.name).c_str());
  }
  std::printf("\nparameters: %lld (%s as %s, %s as f32)\n", static_cast<long long>(total), Bytes(total, es).c_str(),
              dtype, Bytes(total, 4).c_str());
  std::printf("per rank at tp=%d, --vit %s (parameters):\n", a.tp, a.vit.c_str());
  std::printf("  %-9s %14s %14s %14s %14s  %15s  %16s\n", "rank", "sharded", "replicated", "leader-only", "total",
              "bytes", "bytes");
  PrintRank("leader", PerRankElements(ckpt.table(), a.tp, c.name, /*holds_vit=*/true), es, dtype);
  if (a.tp > 1)
    PrintRank("follower", PerRankElements(ckpt.table(), a.tp, c.name, vit == VitPlacement::kSharded), es, dtype);
}

}  // namespace

void RegisterInspectCommand(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "validate an HDF5 checkpoint and print its config, datasets, TP split");
  cmd->add_option("--model", args->model, "the HDF5 checkpoint")->required();
  cmd->add_option("--tp", args->tp, "tensor-parallel size for the per-rank totals (default 1)");
  cmd->add_option("--vit", args->vit,
                  "leader: the ViT + projector are loaded on the tp leader only (default); sharded: on every rank");
  cmd->callback([args] { RunInspect(*args); });
}

}  // namespace pg
