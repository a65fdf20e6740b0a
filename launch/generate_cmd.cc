// paligemma generate: prompts over one or more images through the engine's one generation loop,
// printed to stdout, optionally with the logits of every step (--logits-out, HDF5 dataset
// `logits` [steps, vocab]; `logits_<i>` for request i > 0).
//
// Requests: --image repeated, with one --prompt for all of them or one --prompt per --image
// (paired in order); or --requests FILE.jsonl, one {"image": PATH, "prompt": TEXT} per line.
// --batch caps the sequences decoding at once (later requests take the slots of finished ones).
#include <cstdio>
#include <fstream>
#include <memory>

#include "dist/error_agreement.h"
#include "io/h5_arrays.h"
#include "io/image_decode.h"
#include "io/image_resize.h"
#include "launch/commands.h"
#include "launch/model_session.h"
#include "launch/sampling_flags.h"
#include <nlohmann/json.hpp>
#include "engine/generator.h"

namespace pg {
namespace {

struct GenerateArgs {
  SessionOptions session;
  std::vector<std::string> images;
  std::vector<std::string> prompts;
  std::string requests;
  int batch = 0;
  int max_new_tokens = 32;
  std::string logits_out;
  std::string resize = "bilinear";
  std::string vit = "leader";
  SamplingParams sampling;
};

void WriteLogits(const std::string& path, const std::vector<GenerationOutput>& outs, int vocab) {
  H5ArrayFile f(path, "w");
  for (size_t i = 0; i < outs.size(); ++i) {
    const GenerationOutput& o = outs[i];
    std::vector<float> flat;
    for (const auto& row : o.logits) flat.insert(flat.end(), row.begin(), row.end());
    std::vector<int32_t> toks(o.tokens.begin(), o.tokens.end());
    const std::string suffix = i == 0 ? "" : "_" + std::to_string(i);
    f.WriteF32("logits" + suffix, {static_cast<int64_t>(o.logits.size()), vocab}, flat.data());
    f.WriteI32("tokens" + suffix, {static_cast<int64_t>(toks.size())}, toks.data());
  }
}

struct Request {
  std::string image, prompt;
};

// The (image, prompt) pairs of --image/--prompt or --requests; throws naming the flag or line.
std::vector<Request> ParseRequests(const GenerateArgs& a) {
  std::vector<Request> out;
  if (!a.requests.empty()) {
    PG_CHECK(a.images.empty() && a.prompts.empty(), "--requests cannot be combined with --image or --prompt");
    std::ifstream in(a.requests);
    PG_CHECK(in, "--requests '" << a.requests << "': cannot open the file");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        const nlohmann::json j = nlohmann::json::parse(line);
        out.push_back({j.at("image").get<std::string>(), j.value("prompt", std::string("caption en"))});
      } catch (const std::exception& e) {
        PG_THROW("--requests '" << a.requests << "' line " << n << ": expected {\"image\": ..., \"prompt\": ...}: "
                                << e.what());
      }
    }
    PG_CHECK(!out.empty(), "--requests '" << a.requests << "' holds no request");
    return out;
  }
  PG_CHECK(!a.images.empty(), "generate needs --image (repeatable) or --requests FILE.jsonl");
  PG_CHECK(a.prompts.size() <= 1 || a.prompts.size() == a.images.size(),
           a.prompts.size() << " --prompt values for " << a.images.size()
                            << " --image values: give one prompt for all images or one per image");
  for (size_t i = 0; i < a.images.size(); ++i)
    out.push_back({a.images[i], a.prompts.empty() ? "caption en" : a.prompts.size() == 1 ? a.prompts[0] : a.prompts[i]});
  return out;
}

void Run(const GenerateArgs& a) {
  ModelSession s = ModelSession::Open(a.session);
  const WorldConfig& w = s.world->config();
  const ModelConfig& c = s.model->config();
  ResizeFilter filter{};
  std::vector<Request> requests;
  CheckSameOnEveryRank([&] {
    requests = ParseRequests(a);
    PG_CHECK(w.dp == 1, "generate runs one tensor-parallel group (world size " << w.world_size << " != --tp "
                                                                               << w.tp << "); use `caption` for data parallel");
    filter = ParseResizeFilter(a.resize);
  });
  const int B = static_cast<int>(requests.size());
  const size_t per_image = static_cast<size_t>(c.vision.image_size) * c.vision.image_size * 3;

  // Images are decoded on the ranks that run the ViT.
  std::vector<float> pixels;
  const bool runs_vit = s.model->has_vit();
  AgreePhase(s.world->world(), "read images", [&] {
    if (!runs_vit) return;
    pixels.resize(per_image * B);
    for (int b = 0; b < B; ++b) {
      std::vector<float> p = PreprocessImage(DecodeImageFile(requests[b].image), c.vision.image_size, filter);
      std::copy(p.begin(), p.end(), pixels.begin() + per_image * b);
    }
  });
  std::vector<float> tokens = EncodeImagesForGroup(*s.model, ParseVitPlacement(a.vit), pixels, B);

  std::vector<GenerationInput> batch(B);
  const size_t tok_per_image = static_cast<size_t>(c.num_image_tokens()) * c.text.width;
  for (int b = 0; b < B; ++b) {
    batch[b].image_tokens.assign(tokens.begin() + tok_per_image * b, tokens.begin() + tok_per_image * (b + 1));
    batch[b].text_ids = s.tokenizer->BuildPrompt(requests[b].prompt);
    batch[b].seq_id = b;
  }
  GenerationOptions go;
  go.max_new_tokens = a.max_new_tokens;
  go.max_batch = a.batch;
  go.sampling = a.sampling;
  go.keep_logits = !a.logits_out.empty();
  std::vector<GenerationOutput> outs;
  AgreePhase(s.world->world(), "generate", [&] { outs = Generator(*s.model).Run(batch, go); });

  if (s.is_world_leader()) {
    for (int b = 0; b < B; ++b) {
      const std::string text_out = s.tokenizer->Decode(outs[b].tokens);
      if (B == 1) {
        std::printf("%s\n", text_out.c_str());
      } else {
        std::printf("%s\t%s\n", requests[b].image.c_str(), text_out.c_str());
      }
    }
    std::fflush(stdout);
    if (!a.logits_out.empty()) WriteLogits(a.logits_out, outs, c.text.vocab_size);
  }
}

}  // namespace

void RegisterGenerateCommand(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text for a prompt over one or more images");
  cmd->add_option("--model", args->session.model_path, "HDF5 checkpoint (paligemma convert)")->required();
  cmd->add_option("--tokenizer", args->session.tokenizer_path, "SentencePiece model")->required();
  cmd->add_option("--image", args->images, "image file (JPEG or PNG); repeat for a batch");
  cmd->add_option("--prompt", args->prompts,
                  "prompt, e.g. \"caption en\" (default); one for all images, or repeat once per --image");
  cmd->add_option("--requests", args->requests, "JSONL file of {\"image\": PATH, \"prompt\": TEXT} lines");
  cmd->add_option("--batch", args->batch, "sequences decoding at once (default: all requests)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "generated tokens at most");
  cmd->add_option("--logits-out", args->logits_out, "write the logits of every step to this HDF5 file");
  cmd->add_option("--tp", args->session.tp, "tensor-parallel ranks (must equal the world size)");
  cmd->add_option("--backend", args->session.backend, "cpu or cuda");
  cmd->add_option("--threads", args->session.threads, "CPU threads per rank");
  cmd->add_option("--resize", args->resize, "bilinear (big_vision, antialiased) or bicubic (Hugging Face)");
  cmd->add_option("--vit", args->vit, "leader (ViT on the group leader, broadcast) or sharded");
  AddSamplingFlags(cmd, &args->sampling);
  cmd->callback([args] {
    args->session.vit = ParseVitPlacement(args->vit);
    Run(*args);
  });
}

}  // namespace pg
