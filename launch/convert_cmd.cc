// paligemma convert: a big_vision .npz or a Hugging Face safetensors checkpoint -> our HDF5
// checkpoint (convert/checkpoint_convert.h). Single process; streams tensor by tensor and writes
// OUT.h5.tmp, validated and renamed to OUT.h5 only on success.
//
//   paligemma convert --from npz --input paligemma-3b-pt-224.npz --config configs/paligemma-3b-pt-224.json \
//                     --output paligemma-3b-pt-224.h5 [--dtype f32|bf16]
//   paligemma convert --random --config configs/mid.json --output mid.h5 [--dtype f32|bf16] [--seed S]
//                     (random N(0, 0.02) weights for benchmarks: models/random_checkpoint.h)
//   paligemma convert --from hf --input hf_model_dir --output m.h5 [--config X.json] [--name N]
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "convert/checkpoint_convert.h"
#include "dist/world.h"
#include "launch/commands.h"
#include "models/random_checkpoint.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct ConvertArgs {
  std::string from, input, config, output, dtype, name;
  int max_seq_len = 0, vocab = 0;
  bool verbose = false;
  bool random = false;
  uint64_t seed = 0;
};

// --random: no source checkpoint; weights drawn by models/random_checkpoint.h.
void RunRandom(const ConvertArgs& a) {
  PG_CHECK(!a.config.empty(), "convert --random needs --config configs/<model>.json");
  PG_CHECK(a.from.empty() && a.input.empty() && a.name.empty() && a.max_seq_len == 0 && a.vocab == 0,
           "convert --random takes only --config, --output, --dtype and --seed (no --from/--input/--name/...)");
  RandomCheckpointOptions ro;
  ro.dtype = a.dtype == "bf16" ? DType::kBF16 : DType::kF32;
  ro.seed = a.seed;
  if (a.verbose) ro.log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  const ModelConfig config = ModelConfig::FromFile(a.config);
  const int64_t n = WriteRandomCheckpoint(config, a.output, ro);
  std::printf("wrote %s: model '%s' with random weights (seed %llu), dtype %s, %lld weights\n", a.output.c_str(),
              config.name.c_str(), static_cast<unsigned long long>(a.seed), DTypeName(ro.dtype),
              static_cast<long long>(n));
}

void RunConvert(const ConvertArgs& a) {
  const int world = WorldSize();
  PG_CHECK(world == 1, "convert runs as one process; got " << world << " MPI ranks");
  if (!a.dtype.empty())
    PG_CHECK(a.dtype == "f32" || a.dtype == "bf16", "convert: --dtype must be f32 or bf16, got '" << a.dtype << "'");
  if (a.random) return RunRandom(a);
  PG_CHECK(!a.from.empty() && !a.input.empty(), "convert needs --from npz|hf and --input (or --random --config)");
  ConvertOptions opt;
  opt.output = a.output;
  if (!a.dtype.empty()) opt.dtype = a.dtype == "bf16" ? DType::kBF16 : DType::kF32;
  if (a.verbose) opt.log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  ConvertResult r;
  if (a.from == "npz") {
    PG_CHECK(!a.config.empty(), "convert --from npz needs --config configs/<model>.json (an npz holds no config)");
    PG_CHECK(a.name.empty() && a.max_seq_len == 0 && a.vocab == 0,
             "convert --from npz: --name/--max-seq-len/--vocab come from --config");
    r = ConvertNpz(a.input, ModelConfig::FromFile(a.config), opt);
  } else {
    HfImportOptions hf;
    hf.name = a.name;
    hf.max_seq_len = a.max_seq_len;
    hf.vocab_size = a.vocab;
    if (!a.config.empty()) {
      PG_CHECK(a.name.empty() && a.max_seq_len == 0 && a.vocab == 0,
               "convert --from hf: give either --config or --name/--max-seq-len/--vocab, not both");
      const ModelConfig expected = ModelConfig::FromFile(a.config);
      r = ConvertHf(a.input, &expected, hf, opt);
    } else {
      r = ConvertHf(a.input, nullptr, hf, opt);
    }
  }
  struct stat st;
  const double mib = stat(a.output.c_str(), &st) == 0 ? st.st_size / 1048576.0 : 0.0;
  std::printf("wrote %s: model '%s' (%s), dtype %s, %lld source tensors, %.1f MiB\n", a.output.c_str(),
              r.config.name.c_str(), r.config.family.c_str(), DTypeName(r.dtype),
              static_cast<long long>(r.source_tensors), mib);
}

}  // namespace

void RegisterConvertCommand(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "convert a big_vision .npz or HF safetensors checkpoint to HDF5");
  cmd->add_option("--from", args->from, "source format (not with --random)")->check(CLI::IsMember({"npz", "hf"}));
  cmd->add_option("--input", args->input, "the .npz file, or the HF model directory (config.json + safetensors)");
  cmd->add_option("--output", args->output, "the HDF5 checkpoint to write (OUT.h5)")->required();
  cmd->add_option("--config", args->config,
                  "model config JSON (required for npz; for hf, config.json must match it)");
  cmd->add_option("--dtype", args->dtype, "stored dtype: f32 or bf16 (default: bf16 if the source is all bf16)");
  cmd->add_option("--name", args->name, "hf: model name stored in the checkpoint (default hf-import)");
  cmd->add_option("--max-seq-len", args->max_seq_len, "hf: max sequence length (default image tokens + 256)");
  cmd->add_option("--vocab", args->vocab, "hf: vocabulary size (default: the rule in convert/hf_import.h)");
  cmd->add_flag("--verbose", args->verbose, "print every tensor as it is converted");
  cmd->add_flag("--random", args->random, "no source: random N(0, 0.02) weights for --config (benchmarks)");
  cmd->add_option("--seed", args->seed, "--random: seed of the weights (same seed, same file)");
  cmd->callback([args] { RunConvert(*args); });
}

}  // namespace pg
