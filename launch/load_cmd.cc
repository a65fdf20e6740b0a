// paligemma load: loads the model on every rank as the jobs do and prints, per rank, the load
// time, the weight bytes held and the resident set (peak VmHWM) against them
// (engine/load_probe.h). Measures the loader; runs no image and needs no tokenizer.
//
//   mpirun -np 2 paligemma load --model M.h5 --tp 2 [--dtype auto|f32|bf16] [--threads 2]
#include <memory>

#include "engine/load_probe.h"
#include "launch/commands.h"

namespace pg {

void RegisterLoadCommand(CLI::App& app) {
  auto args = std::make_shared<SessionOptions>();
  auto vit = std::make_shared<std::string>("leader");
  CLI::App* cmd = app.add_subcommand("load", "Load the model on every rank and report load time and peak memory");
  cmd->add_option("--model", args->model_path, "HDF5 checkpoint (paligemma convert)")->required();
  cmd->add_option("--tp", args->tp, "tensor-parallel ranks (must divide the world size)");
  cmd->add_option("--dtype", args->weight_dtype, "weights in memory on the CPU: auto, f32 or bf16");
  cmd->add_option("--threads", args->threads, "CPU threads per rank");
  cmd->add_option("--vit", *vit, "leader (ViT on the group leader) or sharded (on every rank)");
  cmd->callback([args, vit] {
    args->vit = ParseVitPlacement(*vit);
    RunLoadProbe(*args);
  });
}

}  // namespace pg
