// libFuzzer target: bytes as a user prompt -> what `generate` / `caption` do with it, using the
// committed tiny tokenizer (assets/tokenizer/tiny.model) and the tiny config:
//   Tokenizer::BuildPrompt (<bos> prompt "\n") -> CheckPromptFits(max_new_tokens = 8)
//   -> Decode of the ids -> ParseDetections of the text (the model-output parser).
// Tokenizer and config are loaded once per process. Only pg::Error is expected; ids outside
// the vocabulary or Decode rejecting ids that Encode made are findings (__builtin_trap).
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/tokenizer.h"
#include "engine/generator.h"
#include "models/model_config.h"
#include "runtime/check.h"

namespace {

constexpr int kMaxNewTokens = 8;

struct Assets {
  pg::Tokenizer tokenizer = pg::Tokenizer::Load(PG_SOURCE_DIR "/assets/tokenizer/tiny.model");
  pg::ModelConfig config = pg::ModelConfig::FromFile(PG_SOURCE_DIR "/configs/tiny.json");
};

const Assets& GetAssets() {
  static const Assets assets;
  return assets;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Assets& a = GetAssets();
  const std::string prompt(reinterpret_cast<const char*>(data), size);
  std::vector<int> ids;
  try {
    ids = a.tokenizer.BuildPrompt(prompt);
  } catch (const pg::Error&) {
    return 0;
  }
  if (ids.size() < 2 || ids.front() != a.tokenizer.bos()) __builtin_trap();
  for (int id : ids)
    if (id < 0 || id >= a.tokenizer.vocab_size()) __builtin_trap();
  try {
    pg::CheckPromptFits(a.config, ids.size(), kMaxNewTokens);
  } catch (const pg::Error&) {  // too long: the generator refuses it the same way
  }
  std::string text;
  try {
    text = a.tokenizer.Decode(ids);
  } catch (const pg::Error&) {
    __builtin_trap();  // Decode must accept every id Encode produced
  }
  try {
    (void)pg::Tokenizer::ParseDetections(text, 640, 480);
    (void)pg::Tokenizer::ParseDetections(prompt, 640, 480);
  } catch (const pg::Error&) {
  }
  return 0;
}
