// Tokenizer: the Gemma/PaliGemma SentencePiece model (MODEL_FACTS 1.7, 3.4).
//
//   Tokenizer tok = Tokenizer::Load("tokenizer.model");
//   tok.Validate(config.text.vocab_size, config_path);   // "wrong tokenizer" errors
//   std::vector<int> text_ids = tok.BuildPrompt("caption en");  // <bos> prefix "\n"
//   ... generate ...
//   std::string answer = tok.Decode(generated);             // stops at <eos>
//
// Encode adds no <bos>/<eos> (HF processor: add_bos_token = add_eos_token = False).
// Special pieces are looked up by string (<loc0000>, "\n"), never assumed at fixed ids, so the
// tiny test tokenizer (assets/tokenizer) and the real one (257152 pieces) work the same way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/detection.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace pg {

class Tokenizer {
 public:
  // Reads a SentencePiece model file. Throws pg::Error naming `path` if it is missing, not a
  // regular file, empty, or not a valid SentencePiece model.
  static Tokenizer Load(const std::string& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Checks that this tokenizer belongs to a model with `vocab_size` embedding rows: the piece
  // count must equal vocab_size (PaliGemma: 257152 = 256000 Gemma + 1024 <loc> + 128 <seg>),
  // pad/eos/bos must be 0/1/2, "\n" must be one piece, and <loc0000>/<seg000> must exist.
  // Throws pg::Error ("wrong tokenizer ...") naming this file, `model_name` and both values.
  void Validate(int vocab_size, const std::string& model_name) const;

  // Text -> ids, no <bos>/<eos> added.
  std::vector<int> Encode(const std::string& text) const;
  // Ids -> text. Stops at the first <eos> (big_vision to_str(stop_at_eos=True)); control pieces
  // (<bos>, <pad>) decode to nothing. Throws pg::Error for ids outside [0, vocab_size()).
  std::string Decode(const std::vector<int>& ids) const;

  // The text part of a PaliGemma prompt: [<bos>] + Encode(prefix) + Encode("\n").
  // This is big_vision's eval input (tok(prefix, bos='yes') then tok(sep="\n"), MODEL_FACTS
  // 1.7) and HF's f"{bos}{prompt}\n" (3.4; "\n" is a user-defined piece, so encoding it apart
  // gives the same ids). The image tokens are NOT included: the model prepends the
  // num_image_tokens image embeddings itself. Empty prefix -> [<bos>, "\n"] (HF test: [2, 108]).
  // Throws pg::Error if the tokenizer has no <bos> piece.
  std::vector<int> BuildPrompt(const std::string& prefix) const;

  // Decodes `ids` (up to <eos>) and parses the "<loc..>x4 label ; ..." boxes, in pixels of an
  // image_w x image_h image. See io/detection.h for the convention.
  std::vector<Detection> ParseDetections(const std::vector<int>& ids, int image_w,
                                         int image_h) const;
  // Same, from already decoded text.
  static std::vector<Detection> ParseDetections(const std::string& text, int image_w,
                                                int image_h);

  int bos() const { return bos_; }
  int eos() const { return eos_; }
  int pad() const { return pad_; }
  // Id of the "\n" piece. Throws pg::Error if "\n" does not encode to a single piece.
  int newline() const;
  int vocab_size() const { return vocab_size_; }
  const std::string& path() const { return path_; }

  // Piece string of `id` (throws for ids out of range) and id of `piece` (-1 if absent).
  std::string IdToPiece(int id) const;
  int PieceToId(const std::string& piece) const;
  // Id of <loc{index:04d}>, index in [0, 1024); throws if the tokenizer has no such piece.
  int LocId(int index) const;

 private:
  Tokenizer();
  void CheckId(int id, const char* what) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string path_;
  int vocab_size_ = 0;
  int bos_ = -1, eos_ = -1, pad_ = -1;
  int newline_ = -1;  // -1 when "\n" is not a single piece
};

}  // namespace pg
