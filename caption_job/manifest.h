// The caption job's manifest (OUT.jsonl.parts/manifest.json): everything that decides the
// records, so that a resumed job only appends records the first run would have written.
// It is a flat JSON object of named fields (strings), written once by the first run and
// compared field by field by every later run:
//
//   format, model.path, model.size, model.mtime_ns, model.config_hash, model.dtype,
//   tokenizer.path, tokenizer.hash, prompt, max_new_tokens, sampling.temperature,
//   sampling.top_k, sampling.top_p, sampling.seed, resize, backend, max_image_pixels,
//   exif_transpose (only when on), vae.hash, masks_dir (only when set), images.count, images.hash
//
// The layout (mpirun -np, --tp, --batch, --vit, threads) is NOT recorded: it does not change
// the records, so a job may be resumed with another layout.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "models/sampler.h"

namespace pg {

class Manifest {
 public:
  void Set(const std::string& key, const std::string& value);
  // nullptr when absent.
  const std::string* Get(const std::string& key) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

  std::string ToJsonText() const;  // pretty, fields in insertion order, newline-terminated
  // Throws pg::Error naming `source` for invalid JSON or non-string values.
  static Manifest FromJsonText(const std::string& text, const std::string& source);

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct CaptionJobSpec {
  std::string model_path;
  std::string model_config_json;  // the checkpoint's "config" attribute
  std::string model_dtype;        // "f32" | "bf16"
  std::string tokenizer_path;
  std::string prompt;
  int max_new_tokens = 0;
  SamplingParams sampling;
  std::string resize;   // "bilinear" | "bicubic"
  std::string backend;  // "cpu" | "cuda" (bf16 and fp32 give different captions)
  std::string weight_dtype = "f32";  // --dtype; recorded only when not f32 (older manifests stay valid)
  int64_t max_image_pixels = 0;
  bool scores = false;  // --scores adds fields to every record; recorded only when true
  std::vector<std::string> item_prompts;  // per item, multi-prompt jobs only (recorded as a hash)
  // --exif-transpose; recorded only when on, so manifests written before the option (which
  // never turned images) still match a resume with --no-exif-transpose, and only that.
  bool exif_transpose = false;
  // --vae (recorded as vae.hash of its contents) and --masks-dir: recorded only when set.
  std::string vae_path, masks_dir;
  std::vector<std::string> images;  // the normalised input list (image_list.h)
};

// Reads the model's and the tokenizer's file identity / contents. Throws naming the file.
Manifest BuildManifest(const CaptionJobSpec& spec);

// One line per differing field of `now` against `recorded`:
//   "prompt: recorded \"caption en\", now \"caption es\"". Empty when they match.
std::vector<std::string> DiffManifests(const Manifest& recorded, const Manifest& now);

// If `path` does not exist: writes `now` atomically (tmp + fsync + rename + fsync of the
// directory) and returns false. Otherwise reads it and returns true if it matches, or throws
// pg::Error naming `path` and every differing field, with what to do about it.
bool CheckOrWriteManifest(const std::string& path, const Manifest& now);

}  // namespace pg
