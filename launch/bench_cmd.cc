// paligemma bench: throughput and per-phase timings of the captioning pipeline over
// tensor-parallel / data-parallel layouts, under mpirun (bench/bench_driver.h).
//
//   mpirun -np 4 paligemma bench --config configs/tiny.json --ranks 1,2,4 --tp 1,2,4 --out bench-out
//   mpirun -np 2 paligemma bench --model M.h5 --tp 2 --batch 1,4,16 --new-tokens 20 --out bench-out
//   mpirun -np 4 --oversubscribe paligemma bench --quick --config configs/tiny.json --out /tmp/b
//   python3 bench/plot.py bench-out      # PNG plots from the CSVs (gnuplot)

#include <memory>
#include <set>

#include "bench/bench_driver.h"
#include "dist/world.h"
#include "launch/commands.h"

namespace pg {

void RegisterBenchCommand(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Benchmark the pipeline per phase over tp x dp layouts (CSV + JSON)");
  cmd->add_option("--model", o->model, "HDF5 checkpoint");
  cmd->add_option("--config", o->config, "model config JSON: benchmark a random-weight model made from it");
  cmd->add_option("--dtype", o->dtype, "stored dtype of the random model: f32 or bf16");
  cmd->add_option("--seed", o->seed, "seed of the random weights and the synthetic prompts");
  cmd->add_option("--ranks", o->ranks, "active ranks per layout, e.g. 1,2,4 (default: the world size)")
      ->delimiter(',');
  cmd->add_option("--tp", o->tp, "tensor-parallel sizes, e.g. 1,2,4 (each layout: ranks/tp replicas)")
      ->delimiter(',');
  cmd->add_option("--batch", o->batch, "sequences per replica at once, e.g. 1,4,16")->delimiter(',');
  cmd->add_option("--images", o->images, "images per iteration (strong scaling) or per rank (weak)");
  cmd->add_option("--scaling", o->scaling, "strong and/or weak, e.g. strong,weak")->delimiter(',');
  cmd->add_option("--vit", o->vit, "leader and/or sharded ViT placement")->delimiter(',');
  cmd->add_option("--prompt-len", o->prompt_len, "text tokens per prompt including <bos> (synthetic ids)");
  cmd->add_option("--new-tokens", o->new_tokens, "generated tokens per image (never stops early at <eos>)");
  cmd->add_option("--backend", o->backend, "cpu or cuda");
  cmd->add_option("--weight-dtype", o->weight_dtype, "weights in memory on the CPU: auto, f32 or bf16 (as --dtype)");
  cmd->add_option("--threads", o->threads, "CPU threads per rank");
  cmd->add_option("--warmup", o->warmup, "unmeasured iterations per case");
  cmd->add_option("--iters", o->iters, "measured iterations per case (the median is reported)");
  cmd->add_option("--out", o->out, "output directory: bench.csv, collectives.csv, bench.json");
  cmd->add_option("--image-source", o->image_source,
                  "images: directory, list file or one image (default PG_HOME/assets/images)");
  cmd->add_option("--collective-bytes", o->collective_bytes, "all-reduce / broadcast sizes to time, bytes")
      ->delimiter(',');
  cmd->add_option("--collective-iters", o->collective_iters, "measured calls per collective size");
  cmd->add_flag("--append", o->append, "append to the files in --out instead of replacing them");
  cmd->add_flag("--keep-model", o->keep_model, "keep the random model made by --config");
  cmd->add_flag("--peaks", o->peaks, "first measure the GEMM fp32 / bf16 GFLOP/s and memory GB/s on --threads");
  cmd->add_flag("--kernels", o->kernels,
                "first time the CPU kernels on the engine's shapes: fused GEMM epilogues vs separate passes, decode GEMM GB/s");
  cmd->add_flag("--full-logits", o->full_logits,
                "also copy every step's full logits to the host (the cost of --logits-out; the old per-step path)");
  cmd->add_flag("--quick", o->quick, "a small sweep for CI (ranks 1,2,4, tp 1,2,4, batch 1,4, 4 images, ...)");
  cmd->callback([o, cmd] {
    std::set<std::string> given;
    for (const CLI::Option* opt : cmd->get_options())
      if (opt->count() > 0) given.insert(opt->get_name());
    const int world = WorldSize();
    if (o->ranks.empty() && !o->quick) o->ranks = {world};
    o->ApplyQuick(world, given);
    RunBench(*o);
  });
}

}  // namespace pg
