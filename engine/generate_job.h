// The generate job: prompts over images through the engine's one generation loop
// (engine/generator.h), printed to stdout by world rank 0, optionally with the logits of every
// step (--logits-out: HDF5 datasets `logits` [steps, vocab] and `tokens` for request 0,
// `logits_<i>` / `tokens_<i>` for request i > 0). One tensor-parallel group (world size = --tp).
//
// Requests: --image repeated, with one --prompt for all of them or one --prompt per --image
// (paired in order); or --requests FILE.jsonl, one {"image": PATH, "prompt": TEXT} per line.
// --batch caps the sequences decoding at once (later requests take the slots of finished ones).
#pragma once

#include <string>
#include <vector>

#include "engine/model_session.h"
#include "models/sampler.h"

namespace pg {

struct GenerateJobOptions {
  SessionOptions session;
  std::vector<std::string> images;
  std::vector<std::string> prompts;
  std::string requests;
  int batch = 0;
  int max_new_tokens = 32;
  std::string logits_out;
  bool scores = false;  // append "\tlogprob=<sum of the generated tokens' log-probabilities>"
  std::string resize = "bilinear";  // --resize / --preprocess (launch/preprocess_flags.h)
  int64_t max_image_pixels = int64_t{64} << 20;  // larger images are refused, naming the file
  std::string vit = "leader";
  bool exif_transpose = true;  // turn images upright by their EXIF orientation, as HF's load_image
  SamplingParams sampling;
};

// Runs on every rank of the world; throws pg::Error naming the bad flag, file or line.
void RunGenerateJob(const GenerateJobOptions& options);

}  // namespace pg
