// paligemma caption: parses the flags of the caption job (caption_job/caption_job.h, which
// documents the job) and runs it.
//
//   mpirun -np 4 paligemma caption --model M.h5 --tokenizer T.model --images DIR --tp 2 \
//       --output OUT.jsonl
#include <memory>

#include "caption_job/caption_job.h"
#include "launch/commands.h"
#include "launch/preprocess_flags.h"
#include "launch/sampling_flags.h"

namespace pg {

void RegisterCaptionCommand(CLI::App& app) {
  auto args = std::make_shared<CaptionJobOptions>();
  CLI::App* cmd = app.add_subcommand(
      "caption", "Caption a directory or list of images into JSON Lines (resumable; data x tensor parallel)");
  cmd->add_option("--model", args->session.model_path, "HDF5 checkpoint (default: PG_HOME/build/demo_model.h5)");
  cmd->add_option("--tokenizer", args->session.tokenizer_path,
                  "SentencePiece model (default: PG_HOME/assets/tokenizer/tiny.model)");
  CLI::Option* images = cmd->add_option("--images", args->images,
                  "directory (recursive; JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF by content), list file "
                  "(one path per line) or one image "
                  "(default: PG_HOME/assets/images)");
  CLI::Option* requests = cmd->add_option("--requests", args->requests,
                  "JSON Lines of {\"image\": P, \"prompt\": S} or {\"image\": P, \"prompts\": [S, ...]} instead of "
                  "--images; records carry \"prompt\"")
      ->excludes(images);
  CLI::Option* output = cmd->add_option(
      "--output", args->output, "JSON Lines output (default: ./out/captions.jsonl; - writes the records to standard output)");
  // Tar shards (WebDataset / img2dataset): caption_job/shard_job.h.
  CLI::Option* shards = cmd->add_option(
      "--shards", args->shard.shards,
      "tar shards instead of --images: 'data/{00000..00999}.tar', a glob, a directory or a list file");
  CLI::Option* output_dir =
      cmd->add_option("--output-dir", args->shard.output_dir, "with --shards: one OUTDIR/<shard>.jsonl per shard");
  cmd->add_option("--shard-range", args->shard.range,
                  "with --shards: A:B (shards A..B-1 of the list), A: or K/N (part K of N), e.g. per Slurm array task")
      ->needs(shards);
  cmd->add_flag("--keep-meta", args->shard.keep_meta,
                "with --shards: each sample's .json as \"meta\" and .txt as \"source_text\"")
      ->needs(shards);
  shards->needs(output_dir)->excludes(output)->excludes(requests);
  output_dir->needs(shards);
  cmd->add_option("--prompt", args->prompts,
                  "prompt: \"caption en\", \"detect cat\" (adds boxes), ...; repeat it to run every image with "
                  "each prompt (records carry \"prompt\"; the ViT runs once per image)")
      ->default_str("caption en");
  cmd->add_option("--tp", args->session.tp, "tensor-parallel ranks per replica; replicas = world size / tp");
  CLI::Option* batch = cmd->add_option(
      "--batch", args->batch,
      "sequences decoding at once per replica (continuous batching); default: 16 on the CPU, on CUDA the most "
      "that fit in 90% of the free device memory (at most 512)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "generated tokens at most per image");
  cmd->add_option("--vit", args->vit, "leader (ViT on the group leader, broadcast) or sharded");
  auto resolve_preprocess = AddPreprocessFlags(cmd, &args->resize);
  cmd->add_option("--threads", args->session.threads, "CPU threads per rank");
  cmd->add_option("--backend", args->session.backend, "cpu or cuda");
  cmd->add_option("--dtype", args->session.weight_dtype,
                  "weights in memory: auto (the checkpoint's dtype), f32 or bf16 (on a CPU without bf16 dot "
                  "products bf16 weights are widened to fp32 in the GEMMs)")
      ->capture_default_str();
  cmd->add_option("--decode-threads", args->decode_threads, "image decoding threads on each replica leader");
  cmd->add_option("--prefetch", args->prefetch, "images decoded ahead per replica (default 2 x --batch)");
  cmd->add_option("--max-image-pixels", args->max_image_pixels, "larger images become error records");
  cmd->add_option("--progress", args->progress, "auto (bar on a TTY, else lines), bar, lines or off");
  cmd->add_option("--progress-every", args->progress_every_s, "seconds between progress lines");
  cmd->add_flag("--scores", args->scores,
               "add \"logprob\" (sum) and \"token_logprobs\" (each generated token's log-probability) to records");
  cmd->add_flag("--exif-transpose,!--no-exif-transpose", args->exif_transpose,
                "turn images upright by their EXIF orientation, as HF's load_image (default on)")
      ->capture_default_str();
  auto vae = cmd->add_option("--vae", args->vae,
                             "segment prompts: big_vision's mask decoder vae-oid.npz; boxes get \"mask\" (COCO RLE)");
  cmd->add_option("--masks-dir", args->masks_dir, "with --vae: also write each mask as DIR/<index>_<object>.png")
      ->needs(vae)
      ->excludes(shards);
  cmd->add_flag("--restart", args->restart, "discard the records of an earlier run of this --output");
  cmd->add_flag("--verbose", args->verbose, "per-replica timing summary");
  shards->excludes(images);
  AddSamplingFlags(cmd, &args->sampling);
  cmd->callback([args, resolve_preprocess, batch] {
    args->batch_given = batch->count() > 0;
    CheckFlags([&] {
      args->session.vit = ParseVitPlacement(args->vit);
      resolve_preprocess();
      PG_CHECK(args->shard.shards.empty() || args->prompts.size() <= 1,
               "--shards takes one --prompt (several prompts per image are for --images and --requests)");
    });
    if (!args->prompts.empty()) args->prompt = args->prompts[0];
    if (args->prompts.size() == 1) args->prompts.clear();
    RunCaptionJob(*args);
  });
}

}  // namespace pg
