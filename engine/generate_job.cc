#include "engine/generate_job.h"

#include <cstdio>
#include <memory>

#include "dist/error_agreement.h"
#include "io/h5_arrays.h"
#include "io/image_decode.h"
#include "io/image_resize.h"
#include "engine/generator.h"
#include "engine/request_file.h"
#include "tensor_parallel/image_token_broadcast.h"


namespace pg {
namespace {

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

using Request = ImagePrompt;

// The (image, prompt) pairs of --image/--prompt or --requests; throws naming the flag or line.
std::vector<Request> ParseRequests(const GenerateJobOptions& a) {
  std::vector<Request> out;
  if (!a.requests.empty()) {
    PG_CHECK(a.images.empty() && a.prompts.empty(), "--requests cannot be combined with --image or --prompt");
    return ReadRequestFile(a.requests, "caption en");
  }
  PG_CHECK(!a.images.empty(), "generate needs --image (repeatable) or --requests FILE.jsonl");
  PG_CHECK(a.prompts.size() <= 1 || a.prompts.size() == a.images.size(),
           a.prompts.size() << " --prompt values for " << a.images.size()
                            << " --image values: give one prompt for all images or one per image");
  for (size_t i = 0; i < a.images.size(); ++i)
    out.push_back({a.images[i], a.prompts.empty() ? "caption en" : a.prompts.size() == 1 ? a.prompts[0] : a.prompts[i]});
  return out;
}

}  // namespace

void RunGenerateJob(const GenerateJobOptions& a) {
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
      DecodeOptions decode;
      decode.exif_transpose = a.exif_transpose;
      decode.max_pixels = a.max_image_pixels;
      // HF mode (bicubic, SiglipImageProcessor) composites alpha onto white; big_vision drops it.
      decode.alpha_onto_white = filter == ResizeFilter::kBicubicPil;
      std::vector<float> p = PreprocessImage(DecodeImageFile(requests[b].image, decode), c.vision.image_size, filter);
      std::copy(p.begin(), p.end(), pixels.begin() + per_image * b);
    }
  });
  // tokens: [B, Np, D] on the backend of every rank (no host round trip with CUDA)
  const Tensor tokens = EncodeImagesForGroupOnBackend(*s.model, ParseVitPlacement(a.vit), pixels, B);

  std::vector<GenerationInput> batch(B);
  const int64_t Np = c.num_image_tokens();
  for (int b = 0; b < B; ++b) {
    batch[b].image_tokens_on_backend = tokens.RowSlice(Np * b, Np);
    batch[b].text_ids = s.tokenizer->BuildPrompt(requests[b].prompt);
    batch[b].seq_id = b;
  }
  GenerationOptions go;
  go.max_new_tokens = a.max_new_tokens;
  go.max_batch = a.batch;
  go.sampling = a.sampling;
  go.keep_logits = !a.logits_out.empty();
  go.keep_logprobs = a.scores;
  std::vector<GenerationOutput> outs;
  AgreePhase(s.world->world(), "generate", [&] { outs = Generator(*s.model).Run(batch, go); });

  if (s.is_world_leader()) {
    for (int b = 0; b < B; ++b) {
      std::string text_out = s.tokenizer->Decode(outs[b].tokens);
      if (a.scores) {
        double sum = 0;
        for (float lp : outs[b].logprobs) sum += lp;
        char buf[48];
        std::snprintf(buf, sizeof(buf), "\tlogprob=%.4f", sum);
        text_out += buf;
      }
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


}  // namespace pg
