// The caption job: large-batch offline captioning of a directory or list of images into JSON
// Lines, resumable, over a [dp, tp] world (mpirun -np dp*tp paligemma caption ... --tp tp).
// `paligemma caption` (launch/caption_cmd.cc) parses its flags into CaptionJobOptions and calls
// RunCaptionJob on every rank.
//
// Work items: one per input image (caption_job/image_list.h), or one per (image, prompt) with
// several --prompt values or --requests FILE.jsonl; record i is item i. Items not yet recorded in
// OUT.jsonl.parts/ are grouped by image (the ViT runs once per image, its prompts decode as
// separate sequences) and the groups are dealt round-robin over the dp replicas (pending group j
// goes to replica j % dp).
// Each replica's leader appends its records to OUT.jsonl.parts/part-<dp_rank>.jsonl; world
// rank 0 merges them into OUT.jsonl (atomic rename) with one record per image in input order.
// See caption_job/part_files.h (resume), caption_job/manifest.h (what must not change on resume),
// caption_job/caption_record.h (the record), caption_job/caption_replica.h (the per-group protocol).
//
// With no --model / --tokenizer / --images / --output, the embedded demo is used
// (caption_job/pg_home.h): PG_HOME/build/demo_model.h5, PG_HOME/assets/tokenizer/tiny.model,
// PG_HOME/assets/images, ./out/captions.jsonl; PG_HOME defaults to the directory two levels
// above the executable (build/paligemma -> the repository). scripts/demo.sh prepares it.
//
// Debug hook for the kill/resume tests: PG_DEBUG_CAPTION_STEP_DELAY_MS=N sleeps N ms after
// every engine iteration, so that a job can be killed mid-run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caption_job/shard_options.h"
#include "engine/model_session.h"
#include "models/sampler.h"

namespace pg {

struct CaptionJobOptions {
  SessionOptions session;
  std::string images, output, prompt = "caption en";
  // 2+ prompts: every image with each of them (records image-major). --requests FILE.jsonl:
  // (image, prompt) pairs (engine/request_file.h) instead of --images; `prompt` is the default.
  std::vector<std::string> prompts;
  std::string requests;
  std::string resize = "bilinear", vit = "leader", progress = "auto";
  int batch = 16, max_new_tokens = 40, decode_threads = 2, prefetch = 0;
  bool batch_given = false;  // --batch on the command line; else caption_job/device_batch.h picks it
  int64_t max_image_pixels = int64_t{64} << 20;
  double progress_every_s = 5;
  bool restart = false, verbose = false, scores = false;
  std::string vae, masks_dir;  // segment prompts: mask decoder npz, PNG directory (segment_fields.h)
  bool exif_transpose = true;  // turn images upright by their EXIF orientation, as HF's load_image
  SamplingParams sampling;
  ShardJobOptions shard;  // --shards: tar shards instead of --images (caption_job/shard_job.h)
};

// Runs the whole job on this rank (collective over MPI_COMM_WORLD); throws pg::Error naming the
// bad input. Options left empty (model, tokenizer, images, output) take the embedded demo's.
void RunCaptionJob(CaptionJobOptions options);

}  // namespace pg
