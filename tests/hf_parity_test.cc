// Golden parity with Hugging Face transformers PaliGemma (fp32, CPU): the fixtures' HF
// safetensors are converted with `paligemma convert`, the engine runs all prompts of a case
// through its one generation loop (the continuous batcher), and logits / greedy tokens must
// match the per-example HF runs: max |logit error| <= 1e-4 x max |logit|, tokens identical.
// Cases: all prompts in ONE batch (different lengths, padded; gemma1_batch has sequences that
// stop at <eos> while others go on), and fewer KV slots than prompts (max_batch 1 or 2), so
// finished sequences' slots are refilled mid-run by waiting prompts, as `caption` does.
#include <gtest/gtest.h>

#include <filesystem>

#include "models/checkpoint_reader.h"
#include "hf_fixture.h"

namespace pg {
namespace {

namespace fs = std::filesystem;
using testing::CompareWithReference;
using testing::HfReference;

struct ParityCase {
  std::string fixture;
  int max_batch;    // KV slots; 0 = all prompts at once
  int threads = 1;  // CPU backend threads (the threaded split of every op)
};

class HfParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(HfParity, LogitsAndGreedyTokensMatch) {
  const std::string name = GetParam().fixture;
  ASSERT_TRUE(fs::exists(testing::FixtureDir(name) + "/reference.h5")) << "missing fixture " << name;
  const fs::path work = fs::temp_directory_path() / ("pg_parity_" + name + "_" + std::to_string(getpid()));
  fs::create_directories(work);
  const std::string h5 = testing::ConvertFixture(name, (work / "model.h5").string());

  HfReference ref = HfReference::Load(name);
  CheckpointReader ckpt(h5);
  BackendOptions bo;
  bo.threads = GetParam().threads;
  auto be = MakeBackend("cpu", bo);
  PaliGemma model(ckpt, *be, TpGroup{}, PaliGemmaLoadOptions{});
  ASSERT_EQ(ckpt.config().text.vocab_size, ref.vocab);

  // Vision tower + projector against HF's image features.
  std::vector<float> tokens = model.EncodeImages(ref.pixels.data(), ref.batch);
  ASSERT_EQ(tokens.size(), ref.image_features.size());
  double feat_err = 0, feat_scale = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    feat_err = std::max(feat_err, std::fabs(double(tokens[i]) - ref.image_features[i]));
    feat_scale = std::max(feat_scale, std::fabs(double(ref.image_features[i])));
  }
  EXPECT_LE(feat_err, 1e-4 * feat_scale) << "image features: max abs error " << feat_err << " scale " << feat_scale;

  const std::vector<GenerationInput> batch = testing::FixtureRequests(ref, tokens);
  GenerationOptions opt;
  opt.max_new_tokens = ref.steps;
  opt.keep_logits = true;
  opt.keep_hidden = true;
  opt.keep_logprobs = true;
  opt.max_batch = GetParam().max_batch;
  std::vector<GenerationOutput> outs = Generator(model).Run(batch, opt);

  // Named intermediates: the residual stream after every decoder layer at the prompt positions
  // (HF hidden_states [B, L+1, T, D], rows past the prompt are 0).
  H5ArrayFile f(testing::FixtureDir(name) + "/reference.h5", "r");
  std::vector<int64_t> hs;
  std::vector<float> hidden = f.ReadF32("hidden_states", &hs);
  const int64_t L1 = hs[1], Tmax = hs[2], D = hs[3];
  for (int b = 0; b < ref.batch; ++b) {
    const int64_t len = outs[b].prompt_tokens;
    for (int64_t l = 0; l < L1; ++l) {
      double err = 0, scale = 0;
      for (int64_t t = 0; t < len; ++t)
        for (int64_t d = 0; d < D; ++d) {
          const double h = hidden[((b * L1 + l) * Tmax + t) * D + d];
          const double e = outs[b].prefill_hidden[(l * len + t) * D + d];
          err = std::max(err, std::fabs(e - h));
          scale = std::max(scale, std::fabs(h));
        }
      EXPECT_LE(err, 1e-4 * scale) << "seq " << b << " hidden state " << l << ": max abs error " << err;
    }
  }
  testing::Comparison c = CompareWithReference(ref, outs);
  std::printf("[parity %s, %d slots] batch %d, max abs logit error %.3g, max |logit| %.3g, relative %.3g, min top-1 margin %.3g\n",
              name.c_str(), opt.max_batch > 0 ? opt.max_batch : ref.batch, ref.batch, c.max_abs_err, c.scale, c.max_abs_err / c.scale, ref.min_margin);
  EXPECT_LE(c.max_abs_err, 1e-4 * c.scale) << "worst: " << c.worst;
  EXPECT_EQ(c.token_mismatches, 0) << c.token_report;

  // --scores: log p(token) = log_softmax(HF's logits)[token] at every generated step.
  double lp_err = 0;
  for (int b = 0; b < ref.batch; ++b) {
    ASSERT_EQ(outs[b].logprobs.size(), outs[b].tokens.size()) << "seq " << b;
    for (size_t s = 0; s < outs[b].tokens.size() && s < ref.tokens[b].size(); ++s) {
      const float* row = ref.logits.data() + (static_cast<size_t>(b) * ref.steps + s) * ref.vocab;
      double m = row[0], sum = 0;
      for (int v = 0; v < ref.vocab; ++v) m = std::max(m, double(row[v]));
      for (int v = 0; v < ref.vocab; ++v) sum += std::exp(row[v] - m);
      const double hf = row[ref.tokens[b][s]] - m - std::log(sum);
      lp_err = std::max(lp_err, std::fabs(outs[b].logprobs[s] - hf));
      EXPECT_LE(outs[b].logprobs[s], 0.f) << "seq " << b << " step " << s;
    }
  }
  std::printf("[parity %s] max |log-prob error| %.3g\n", name.c_str(), lp_err);
  EXPECT_LE(lp_err, 2e-4 * c.scale) << "log-probabilities of the generated tokens";
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfParity,
                         ::testing::Values(ParityCase{"gemma1_mqa", 0}, ParityCase{"gemma1_batch", 0},
                                           ParityCase{"gemma2", 0}, ParityCase{"gemma1_batch", 2},
                                           ParityCase{"gemma1_batch", 1}, ParityCase{"gemma2", 2},
                                           ParityCase{"gemma2", 0, 2}, ParityCase{"gemma1_batch", 2, 3}),
                         [](const ::testing::TestParamInfo<ParityCase>& info) {
                           return info.param.fixture + "_slots" + std::to_string(info.param.max_batch) + "_threads" +
                                  std::to_string(info.param.threads);
                         });

}  // namespace
}  // namespace pg
