// paligemma inspect: validates an HDF5 checkpoint (the loader's checks) and prints its
// config, dtype, every dataset with its shape and shard rule, and what one rank holds at
// tensor-parallel size --tp (split vs replicated, in the stored dtype and as f32).
//
//   paligemma inspect --model paligemma-3b-pt-224.h5 --tp 4
#include <cstdio>
#include <string>

#include "launch/commands.h"
#include "models/checkpoint_reader.h"
#include "models/weight_table.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct InspectArgs {
  std::string model;
  int tp = 1;
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

void RunInspect(const InspectArgs& a) {
  PG_CHECK(a.tp >= 1, "inspect: --tp must be >= 1, got " << a.tp);
  CheckpointReader ckpt(a.model);
  const ModelConfig& c = ckpt.config();
  const size_t es = DTypeSize(ckpt.dtype());
  std::printf("checkpoint: %s\nformat: paligemma-tp/1\ndtype: %s\nconfig:\n%s\n", ckpt.path().c_str(),
              DTypeName(ckpt.dtype()), c.ToJsonText().c_str());
  std::printf("\ndatasets (%zu), shard rule at tp=%d:\n", ckpt.table().size(), a.tp);
  int64_t total = 0;
  for (const WeightSpec& s : ckpt.table()) {
    total += s.num_elements;
    const int axis = EffectiveShardAxis(s, a.tp, c.name);
    std::string rule;
    if (axis >= 0) {
      rule = "split axis " + std::to_string(axis) + " (" + s.shard_what + ") -> " +
             ShapeStr(ShardSlab(s, 0, a.tp, c.name).count) + " per rank";
    } else if (ReplicatedSlices(s, a.tp) > 1) {
      rule = "one of " + std::to_string(s.shape[s.shard_axis]) + " " + s.shard_what + " per rank (" +
             std::to_string(a.tp / s.shape[s.shard_axis]) + " ranks keep each)";
    } else if (s.shard_axis >= 0) {
      rule = "replicated (" + std::to_string(s.shape[s.shard_axis]) + " " + s.shard_what + " not divisible by tp " +
             std::to_string(a.tp) + ")";
    } else {
      rule = "replicated";
    }
    std::printf("  %-72s %-26s %s\n", s.name.c_str(), ShapeStr(s.shape).c_str(), rule.c_str());
  }
  const RankElements r = PerRankElements(ckpt.table(), a.tp, c.name);
  std::printf("\nparameters: %lld (%s as %s, %s as f32)\n", static_cast<long long>(total), Bytes(total, es).c_str(),
              DTypeName(ckpt.dtype()), Bytes(total, 4).c_str());
  std::printf("per rank at tp=%d:\n", a.tp);
  std::printf("  sharded:    %14lld parameters  %12s %s  %12s f32\n", static_cast<long long>(r.sharded),
              Bytes(r.sharded, es).c_str(), DTypeName(ckpt.dtype()), Bytes(r.sharded, 4).c_str());
  std::printf("  replicated: %14lld parameters  %12s %s  %12s f32\n", static_cast<long long>(r.replicated),
              Bytes(r.replicated, es).c_str(), DTypeName(ckpt.dtype()), Bytes(r.replicated, 4).c_str());
  std::printf("  total:      %14lld parameters  %12s %s  %12s f32\n", static_cast<long long>(r.total()),
              Bytes(r.total(), es).c_str(), DTypeName(ckpt.dtype()), Bytes(r.total(), 4).c_str());
}

}  // namespace

void RegisterInspectCommand(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "validate an HDF5 checkpoint and print its config, datasets, TP split");
  cmd->add_option("--model", args->model, "the HDF5 checkpoint")->required();
  cmd->add_option("--tp", args->tp, "tensor-parallel size for the per-rank totals (default 1)");
  cmd->callback([args] { RunInspect(*args); });
}

}  // namespace pg
