// libFuzzer target: bytes as a SentencePiece model file -> Tokenizer::Load (libsentencepiece
// parses the serialized proto; the engine reads the piece count and special ids), then
// Validate against the tiny config's vocab (the "wrong tokenizer" checks every model command
// runs), and for a model that loads: BuildPrompt + Decode of a fixed prompt and piece lookups.
// Load takes a path, so each input is written to a scratch file. Only pg::Error is expected;
// an id outside [0, vocab_size) from Encode is a finding (__builtin_trap).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_scratch_file.h"
#include "io/tokenizer.h"

namespace {

constexpr int kTinyVocab = 1600;  // configs/tiny.json text.vocab_size

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pg::fuzz::ScratchFile file(".model");
  pg::fuzz::ReadAsFile(file, data, size, [](const std::string& path) {
    const pg::Tokenizer tok = pg::Tokenizer::Load(path);
    try {
      tok.Validate(kTinyVocab, "tiny");
    } catch (const pg::Error&) {  // a wrong tokenizer: the rest still must not crash
    }
    const std::vector<int> ids = tok.BuildPrompt("caption en <loc0001> \xc3\xa9t\xc3\xa9");
    for (int id : ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    (void)tok.Decode(ids);
    (void)tok.IdToPiece(tok.vocab_size() - 1);
    (void)tok.PieceToId("<loc0000>");
  });
  return 0;
}
