// Tests io/tokenizer and io/detection against the tiny SentencePiece model in
// assets/tokenizer (see its README for the piece layout).
#include "io/tokenizer.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "runtime/check.h"

namespace pg {
namespace {

const std::string kTinyModel = std::string(PG_SOURCE_DIR) + "/assets/tokenizer/tiny.model";
constexpr int kTinyVocab = 1600;  // assets/tokenizer/README.md

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A fresh directory per test for the bad files it writes.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "tokenizer_test_XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    PG_CHECK(made != nullptr, "mkdtemp failed for " << tmpl);
    dir_ = made;
  }
  std::string Write(const std::string& name, const std::string& bytes) const {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Expects `fn` to throw pg::Error whose message contains every string in `parts`.
template <typename Fn>
void ExpectErrorContaining(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected pg::Error";
  } catch (const Error& e) {
    for (const auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
    }
  }
}

std::vector<int> Concat(std::vector<std::vector<int>> parts) {
  std::vector<int> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Tokenizer, LoadsTinyModelWithGemmaSpecialIds) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  EXPECT_EQ(tok.vocab_size(), kTinyVocab);
  EXPECT_EQ(tok.pad(), 0);
  EXPECT_EQ(tok.eos(), 1);
  EXPECT_EQ(tok.bos(), 2);
  EXPECT_EQ(tok.IdToPiece(tok.bos()), "<bos>");
  EXPECT_EQ(tok.IdToPiece(tok.eos()), "<eos>");
  EXPECT_EQ(tok.PieceToId("<loc0000>"), 5);  // README layout
  EXPECT_EQ(tok.PieceToId("<seg000>"), 1029);
  EXPECT_EQ(tok.PieceToId("<no such piece>"), -1);
  EXPECT_NO_THROW(tok.Validate(kTinyVocab, "tiny_test"));
}

TEST(Tokenizer, NewlineIsOnePiece) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  const std::vector<int> ids = tok.Encode("\n");
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(ids[0], tok.newline());
  EXPECT_EQ(tok.IdToPiece(tok.newline()), "\n");
  // Inside text too: "a\nb" has the newline piece between the pieces of "a" and "b".
  EXPECT_EQ(tok.Encode("cat\ndog"),
            Concat({tok.Encode("cat"), {tok.newline()}, tok.Encode("dog")}));
}

TEST(Tokenizer, RoundTripsText) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  for (const std::string s :
       {"caption en", "A red dog is sitting on the beach.", "two  spaces and\ttab",
        " leading and trailing ", "line one\nline two\n", "digits 12345 and 0",
        "unicode: caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb1", "detect cat ; dog",
        "<loc0000><loc0512><loc1023><loc0001> zebra", ""}) {
    const std::vector<int> ids = tok.Encode(s);
    for (int id : ids) ASSERT_TRUE(id >= 0 && id < tok.vocab_size()) << id;
    EXPECT_EQ(tok.Decode(ids), s);
  }
  // Encode adds no bos/eos.
  const std::vector<int> ids = tok.Encode("caption en");
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(ids.front(), tok.bos());
  EXPECT_NE(ids.back(), tok.eos());
}

TEST(Tokenizer, DecodeStopsAtEosAndSkipsControlPieces) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  const std::vector<int> ids = Concat(
      {{tok.bos()}, tok.Encode("a cat"), {tok.pad()}, tok.Encode(" sleeps"), {tok.eos()},
       tok.Encode("garbage after eos"), {tok.vocab_size() + 5}});  // invalid id after eos: ignored
  EXPECT_EQ(tok.Decode(ids), "a cat sleeps");
  EXPECT_EQ(tok.Decode({tok.eos()}), "");
  EXPECT_EQ(tok.Decode({}), "");
}

TEST(Tokenizer, DecodeRejectsOutOfRangeIds) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  ExpectErrorContaining([&] { tok.Decode({5, kTinyVocab}); }, {"1600", kTinyModel});
  ExpectErrorContaining([&] { tok.Decode({-1}); }, {"-1", kTinyModel});
  ExpectErrorContaining([&] { tok.IdToPiece(kTinyVocab + 1); }, {"1601"});
}

TEST(Tokenizer, BuildPromptIsBosPrefixNewline) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  const std::vector<int> prefix = tok.Encode("caption en");
  const std::vector<int> prompt = tok.BuildPrompt("caption en");
  ASSERT_EQ(prompt.size(), prefix.size() + 2);
  EXPECT_EQ(prompt.front(), tok.bos());
  EXPECT_EQ(prompt.back(), tok.newline());
  EXPECT_EQ(std::vector<int>(prompt.begin() + 1, prompt.end() - 1), prefix);
  // HF test: the empty prompt is [bos, "\n"] (= [2, 108] with the Gemma tokenizer).
  EXPECT_EQ(tok.BuildPrompt(""), (std::vector<int>{tok.bos(), tok.newline()}));
  // Separately encoding "\n" matches encoding prefix + "\n" together (HF processor).
  EXPECT_EQ(std::vector<int>(prompt.begin() + 1, prompt.end()), tok.Encode("caption en\n"));
  // No image tokens, no eos.
  for (size_t i = 1; i < prompt.size(); ++i) EXPECT_NE(prompt[i], tok.eos());
}

TEST(Tokenizer, LocTokensAreSinglePieces) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  for (int i : {0, 1, 511, 1023}) {
    char piece[16];
    std::snprintf(piece, sizeof(piece), "<loc%04d>", i);
    const std::vector<int> ids = tok.Encode(piece);
    ASSERT_EQ(ids.size(), 1u) << piece;
    EXPECT_EQ(ids[0], tok.LocId(i));
    EXPECT_EQ(tok.IdToPiece(ids[0]), piece);
  }
  EXPECT_EQ(tok.LocId(1023) - tok.LocId(0), 1023);
  ExpectErrorContaining([&] { tok.LocId(1024); }, {"1024"});
}

TEST(Tokenizer, ParsesDetectionsFromIds) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  const std::vector<int> ids = Concat({
      {tok.LocId(0), tok.LocId(511), tok.LocId(1023), tok.LocId(1023)}, tok.Encode(" red cat ; "),
      {tok.LocId(100), tok.LocId(200), tok.LocId(300), tok.LocId(400)}, tok.Encode(" dog"),
      {tok.eos(), tok.LocId(1), tok.LocId(2), tok.LocId(3), tok.LocId(4)}, tok.Encode(" after eos"),
  });
  const int w = 640, h = 480;
  const std::vector<Detection> dets = tok.ParseDetections(ids, w, h);
  ASSERT_EQ(dets.size(), 2u);
  // [ymin, xmin, ymax, xmax] / 1023 * [h, w, h, w] (big_vision segmentation evaluator).
  EXPECT_FLOAT_EQ(dets[0].y0, 0.f);
  EXPECT_FLOAT_EQ(dets[0].x0, 511.f * w / 1023.f);
  EXPECT_FLOAT_EQ(dets[0].y1, static_cast<float>(h));
  EXPECT_FLOAT_EQ(dets[0].x1, static_cast<float>(w));
  EXPECT_EQ(dets[0].label, "red cat");
  EXPECT_FLOAT_EQ(dets[1].y0, 100.f * h / 1023.f);
  EXPECT_FLOAT_EQ(dets[1].x0, 200.f * w / 1023.f);
  EXPECT_FLOAT_EQ(dets[1].y1, 300.f * h / 1023.f);
  EXPECT_FLOAT_EQ(dets[1].x1, 400.f * w / 1023.f);
  EXPECT_EQ(dets[1].label, "dog");
}

TEST(Detection, ParsesTextEdgeCases) {
  // Segmentation tokens after the box are skipped; a run of 3 locs and a 5-digit loc are not
  // boxes; a box without ';' ends at the next box.
  const std::string text =
      "<loc0010><loc0020><loc0030><loc0040><seg001><seg127> big zebra;"
      "<loc0001><loc0002><loc0003> not a box ; <loc9999><loc0001><loc0002><loc0003><loc0004> sheep"
      "<loc1023><loc1023><loc1023><loc1023>";
  const std::vector<Detection> dets = Tokenizer::ParseDetections(text, 1023, 2046);
  ASSERT_EQ(dets.size(), 3u);
  EXPECT_FLOAT_EQ(dets[0].y0, 20.f);
  EXPECT_FLOAT_EQ(dets[0].x0, 20.f);
  EXPECT_FLOAT_EQ(dets[0].y1, 60.f);
  EXPECT_FLOAT_EQ(dets[0].x1, 40.f);
  EXPECT_EQ(dets[0].label, "big zebra");
  EXPECT_FLOAT_EQ(dets[1].y0, 2.f);
  EXPECT_FLOAT_EQ(dets[1].x1, 4.f);
  EXPECT_EQ(dets[1].label, "sheep");
  EXPECT_FLOAT_EQ(dets[2].y1, 2046.f);
  EXPECT_EQ(dets[2].label, "");
  EXPECT_TRUE(Tokenizer::ParseDetections("a dog on the beach", 10, 10).empty());
  ExpectErrorContaining([] { ParseDetectionText("<loc0001>", 0, 10); }, {"0x10"});
}

TEST(Tokenizer, ValidateRejectsWrongVocabSize) {
  const Tokenizer tok = Tokenizer::Load(kTinyModel);
  ExpectErrorContaining([&] { tok.Validate(257152, "configs/paligemma-3b-224.json"); },
                        {"wrong tokenizer", kTinyModel, "1600", "257152",
                         "configs/paligemma-3b-224.json"});
  ExpectErrorContaining([&] { tok.Validate(kTinyVocab - 1, "tiny"); }, {"1599", "1600"});
}

TEST(Tokenizer, ValidateRejectsWrongSpecialIds) {
  // Swap the "<eos>" and "<bos>" piece strings (first occurrences = the piece table, ids 1, 2):
  // same byte lengths, so the model stays valid but has bos = 1, eos = 2.
  std::string bytes = ReadAll(kTinyModel);
  const size_t eos_at = bytes.find("<eos>"), bos_at = bytes.find("<bos>");
  ASSERT_NE(eos_at, std::string::npos);
  ASSERT_NE(bos_at, std::string::npos);
  bytes.replace(eos_at, 5, "<bos>");
  bytes.replace(bos_at, 5, "<eos>");
  TempDir tmp;
  const std::string path = tmp.Write("swapped.model", bytes);
  const Tokenizer tok = Tokenizer::Load(path);
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  ExpectErrorContaining([&] { tok.Validate(kTinyVocab, "tiny_test"); },
                        {"wrong tokenizer", path, "0/2/1", "0/1/2", "tiny_test"});
}

// A model whose <bos> piece is gone loads with bos_id -1; BuildPrompt used to emit -1 as the
// first id (an embedding row out of range). Found by fuzz/tokenizer_model_fuzz
// (fuzz/corpus/tokenizer_model/crash-no-bos-piece).
TEST(Tokenizer, BuildPromptRejectsATokenizerWithoutBos) {
  std::string bytes = ReadAll(kTinyModel);
  const size_t bos_at = bytes.find("<bos>");
  ASSERT_NE(bos_at, std::string::npos);
  bytes.replace(bos_at, 5, "<xos>");
  TempDir tmp;
  const std::string path = tmp.Write("no_bos.model", bytes);
  const Tokenizer tok = Tokenizer::Load(path);
  EXPECT_EQ(tok.bos(), -1);
  ExpectErrorContaining([&] { tok.BuildPrompt("caption en"); }, {path, "no <bos>"});
  ExpectErrorContaining([&] { tok.Validate(kTinyVocab, "tiny"); }, {"wrong tokenizer", path});
}

TEST(Tokenizer, LoadRejectsMissingFile) {
  TempDir tmp;
  const std::string path = tmp.dir() + "/no_such.model";
  ExpectErrorContaining([&] { Tokenizer::Load(path); }, {path, "does not exist"});
}

TEST(Tokenizer, LoadRejectsDirectory) {
  TempDir tmp;
  ExpectErrorContaining([&] { Tokenizer::Load(tmp.dir()); }, {tmp.dir(), "not a regular file"});
}

TEST(Tokenizer, LoadRejectsEmptyFile) {
  TempDir tmp;
  const std::string path = tmp.Write("empty.model", "");
  ExpectErrorContaining([&] { Tokenizer::Load(path); }, {path, "empty"});
}

TEST(Tokenizer, LoadRejectsCorruptFiles) {
  TempDir tmp;
  const std::string good = ReadAll(kTinyModel);
  ASSERT_GT(good.size(), 1000u);
  std::string noise(4096, '\0');
  uint32_t x = 12345;  // fixed LCG: deterministic garbage
  for (char& c : noise) c = static_cast<char>((x = x * 1664525u + 1013904223u) >> 24);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"text.model", "this is not a sentencepiece model\n"},
      {"noise.model", noise},
      {"truncated.model", good.substr(0, good.size() / 2)},
      {"tail.model", good.substr(good.size() / 3)},
  };
  for (const auto& [name, bytes] : cases) {
    const std::string path = tmp.Write(name, bytes);
    ExpectErrorContaining([&] { Tokenizer::Load(path); }, {path, "not a valid SentencePiece"});
  }
}

}  // namespace
}  // namespace pg
