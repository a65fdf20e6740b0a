// paligemma generate: parses the flags of the generate job (engine/generate_job.h, which
// documents it) and runs it.
#include <memory>

#include "engine/generate_job.h"
#include "launch/commands.h"
#include "launch/preprocess_flags.h"
#include "launch/sampling_flags.h"
#include "tensor_parallel/image_token_broadcast.h"

namespace pg {

void RegisterGenerateCommand(CLI::App& app) {
  auto args = std::make_shared<GenerateJobOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text for a prompt over one or more images");
  cmd->add_option("--model", args->session.model_path, "HDF5 checkpoint (paligemma convert)")->required();
  cmd->add_option("--tokenizer", args->session.tokenizer_path, "SentencePiece model")->required();
  cmd->add_option("--image", args->images, "image file (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF); repeat for a batch");
  cmd->add_option("--prompt", args->prompts,
                  "prompt, e.g. \"caption en\" (default); one for all images, or repeat once per --image");
  cmd->add_option("--requests", args->requests, "JSONL file of {\"image\": PATH, \"prompt\": TEXT} lines");
  cmd->add_option("--batch", args->batch, "sequences decoding at once (default: all requests)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "generated tokens at most");
  cmd->add_option("--logits-out", args->logits_out, "write the logits of every step to this HDF5 file");
  cmd->add_flag("--scores", args->scores,
                "append a tab and logprob=<sum of the generated tokens' log-probabilities> to each answer");
  cmd->add_option("--tp", args->session.tp, "tensor-parallel ranks (must equal the world size)");
  cmd->add_option("--backend", args->session.backend, "cpu or cuda");
  cmd->add_option("--dtype", args->session.weight_dtype,
                  "weights in memory: auto (the checkpoint's dtype), f32 or bf16 (on a CPU without bf16 dot "
                  "products bf16 weights are widened to fp32 in the GEMMs)")
      ->capture_default_str();
  cmd->add_option("--threads", args->session.threads, "CPU threads per rank");
  auto resolve_preprocess = AddPreprocessFlags(cmd, &args->resize);
  cmd->add_option("--max-image-pixels", args->max_image_pixels, "larger images are refused (width x height)");
  cmd->add_option("--vit", args->vit, "leader (ViT on the group leader, broadcast) or sharded");
  cmd->add_flag("--exif-transpose,!--no-exif-transpose", args->exif_transpose,
                "turn images upright by their EXIF orientation, as HF's load_image (default on)")
      ->capture_default_str();
  AddSamplingFlags(cmd, &args->sampling);
  cmd->callback([args, resolve_preprocess] {
    CheckFlags([&] {
      args->session.vit = ParseVitPlacement(args->vit);
      resolve_preprocess();
    });
    RunGenerateJob(*args);
  });
}

}  // namespace pg
