// `paligemma generate` end to end on a converted HF fixture: the printed text equals what
// Hugging Face's generate produced (decoded with the same tokenizer), and --logits-out holds
// the logits of every step (prefill first) within the parity tolerance.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "hf_fixture.h"
#include "io/tokenizer.h"

namespace pg {
namespace {

namespace fs = std::filesystem;

std::string RunCapture(const std::string& cmd, int* status) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p.get())) > 0) out.append(buf.data(), n);
  *status = pclose(p.release());
  return out;
}

// A fixture converted into a scratch directory, with its HF reference, prompts and tokenizer.
struct CliFixture {
  std::string name;
  fs::path work;
  std::string h5;
  testing::HfReference ref;
  std::vector<std::string> prompts;
  std::string tok_path = std::string(PG_SOURCE_DIR) + "/assets/tokenizer/tiny.model";
  Tokenizer tok = Tokenizer::Load(tok_path);

  explicit CliFixture(const std::string& fixture)
      : name(fixture), work(fs::temp_directory_path() / ("pg_generate_cli_" + fixture + "_" + std::to_string(getpid()))) {
    fs::create_directories(work);
    h5 = testing::ConvertFixture(name, (work / "model.h5").string());
    ref = testing::HfReference::Load(name);
    prompts = H5ArrayFile(testing::FixtureDir(name) + "/reference.h5", "r").ReadStrings("prompt_text");
  }
  ~CliFixture() { fs::remove_all(work); }
};

TEST(GenerateCli, PrintsHuggingFaceTextAndWritesLogits) {
  CliFixture fx("gemma1_mqa");
  const std::string &name = fx.name, &h5 = fx.h5, &tok_path = fx.tok_path;
  const fs::path& work = fx.work;
  const testing::HfReference& ref = fx.ref;
  const std::vector<std::string>& prompts = fx.prompts;
  Tokenizer& tok = fx.tok;

  for (int b = 0; b < ref.batch; ++b) {
    ASSERT_EQ(tok.BuildPrompt(prompts[b]), ref.text_ids[b]) << "prompt '" << prompts[b] << "' tokenizes differently";
    const std::string logits = (work / ("logits" + std::to_string(b) + ".h5")).string();
    const std::string cmd = std::string(PG_BINARY_DIR) + "/paligemma generate --model " + h5 + " --tokenizer " +
                            tok_path + " --image " + testing::FixtureDir(name) + "/image_" + std::to_string(b) +
                            ".png --prompt '" + prompts[b] + "' --max-new-tokens " + std::to_string(ref.steps) +
                            " --logits-out " + logits + " 2>&1";
    int status = 0;
    const std::string out = RunCapture(cmd, &status);
    ASSERT_EQ(status, 0) << cmd << "\n" << out;
    EXPECT_EQ(out, tok.Decode(ref.tokens[b]) + "\n") << "image " << b;

    H5ArrayFile lf(logits, "r");
    std::vector<int64_t> shape;
    std::vector<float> got = lf.ReadF32("logits", &shape);
    ASSERT_EQ(shape, (std::vector<int64_t>{static_cast<int64_t>(ref.tokens[b].size()), ref.vocab}));
    double err = 0;
    for (size_t s = 0; s < ref.tokens[b].size(); ++s)
      for (int v = 0; v < ref.vocab; ++v)
        err = std::max(err, std::fabs(double(got[s * ref.vocab + v]) -
                                      ref.logits[(static_cast<size_t>(b) * ref.steps + s) * ref.vocab + v]));
    EXPECT_LE(err, 1e-4 * ref.max_abs_logit) << "image " << b;
  }
}

// Mixed prompt lengths from the command line: one --prompt per --image (and the same requests
// from a --requests JSONL file), fewer slots than requests (--batch 2): each line is the image
// and the text HF generated for it (gemma1_batch stops two sequences early at <eos>).
TEST(GenerateCli, PromptPerImageAndRequestsFileMatchHuggingFace) {
  CliFixture fx("gemma1_batch");
  const std::string &name = fx.name, &h5 = fx.h5, &tok_path = fx.tok_path;
  const fs::path& work = fx.work;
  const testing::HfReference& ref = fx.ref;
  const std::vector<std::string>& prompts = fx.prompts;
  Tokenizer& tok = fx.tok;
  const std::string bin = std::string(PG_BINARY_DIR) + "/paligemma generate --model " + h5 + " --tokenizer " +
                          tok_path + " --max-new-tokens " + std::to_string(ref.steps) + " --batch 2";
  std::string pairs, expected;
  std::ofstream jsonl(work / "requests.jsonl");
  for (int b = 0; b < ref.batch; ++b) {
    const std::string image = testing::FixtureDir(name) + "/image_" + std::to_string(b) + ".png";
    pairs += " --image " + image + " --prompt '" + prompts[b] + "'";
    jsonl << "{\"image\": \"" << image << "\", \"prompt\": \"" << prompts[b] << "\"}\n";
    expected += image + "\t" + tok.Decode(ref.tokens[b]) + "\n";
  }
  jsonl.close();
  int status = 0;
  std::string out = RunCapture(bin + pairs + " 2>&1", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out, expected);
  out = RunCapture(bin + " --requests " + (work / "requests.jsonl").string() + " 2>&1", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(out, expected);

  // Two prompts for four images: an error naming the flags, no output.
  const std::string image0 = testing::FixtureDir(name) + "/image_0.png";
  out = RunCapture(bin + " --image " + image0 + " --image " + image0 + " --image " + image0 +
                       " --prompt a --prompt b 2>&1",
                   &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("2 --prompt values for 3 --image values"), std::string::npos) << out;
}

}  // namespace
}  // namespace pg
