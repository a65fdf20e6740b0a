#include "io/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "runtime/check.h"

namespace pg {
namespace {

constexpr int kGemmaPad = 0, kGemmaEos = 1, kGemmaBos = 2;  // MODEL_FACTS 1.7 / 3.1

// Reads the whole file, with errors naming the path.
std::string ReadTokenizerFile(const std::string& path) {
  struct stat st;
  PG_CHECK(::stat(path.c_str(), &st) == 0,
           "tokenizer file '" << path << "' does not exist or cannot be accessed");
  PG_CHECK(S_ISREG(st.st_mode), "tokenizer file '" << path << "' is not a regular file");
  PG_CHECK(st.st_size > 0, "tokenizer file '" << path << "' is empty (0 bytes)");
  std::ifstream in(path, std::ios::binary);
  PG_CHECK(in.good(), "cannot open tokenizer file '" << path << "' for reading");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PG_CHECK(!in.bad() && bytes.size() == static_cast<size_t>(st.st_size),
           "failed to read tokenizer file '" << path << "': got " << bytes.size() << " of "
                                             << st.st_size << " bytes");
  return bytes;
}

}  // namespace

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::Load(const std::string& path) {
  const std::string bytes = ReadTokenizerFile(path);
  Tokenizer tok;
  tok.path_ = path;
  const auto status = tok.sp_->LoadFromSerializedProto(bytes);
  PG_CHECK(status.ok(), "tokenizer file '" << path << "' (" << bytes.size()
                                           << " bytes) is not a valid SentencePiece model: "
                                           << status.ToString());
  tok.vocab_size_ = tok.sp_->GetPieceSize();
  PG_CHECK(tok.vocab_size_ > 0, "tokenizer file '" << path << "' has no pieces");
  tok.bos_ = tok.sp_->bos_id();
  tok.eos_ = tok.sp_->eos_id();
  tok.pad_ = tok.sp_->pad_id();
  const std::vector<int> nl = tok.Encode("\n");
  tok.newline_ = nl.size() == 1 ? nl[0] : -1;
  return tok;
}

void Tokenizer::Validate(int vocab_size, const std::string& model_name) const {
  PG_CHECK(vocab_size_ == vocab_size,
           "wrong tokenizer: '" << path_ << "' has " << vocab_size_ << " pieces but model '"
                                << model_name << "' has vocab_size " << vocab_size
                                << " (PaliGemma: 257152 = 256000 Gemma + 1024 <loc> + 128 <seg>)");
  PG_CHECK(pad_ == kGemmaPad && eos_ == kGemmaEos && bos_ == kGemmaBos,
           "wrong tokenizer: '" << path_ << "' has pad/eos/bos ids " << pad_ << "/" << eos_ << "/"
                                << bos_ << " but model '" << model_name << "' expects "
                                << kGemmaPad << "/" << kGemmaEos << "/" << kGemmaBos);
  PG_CHECK(newline_ >= 0, "wrong tokenizer: '" << path_ << "' does not encode \"\\n\" as one "
                                               << "piece (model '" << model_name
                                               << "' needs it to end the prompt)");
  for (const char* piece : {"<loc0000>", "<loc1023>", "<seg000>", "<seg127>"}) {
    PG_CHECK(PieceToId(piece) >= 0, "wrong tokenizer: '" << path_ << "' has no " << piece
                                                         << " piece (model '" << model_name
                                                         << "' needs the loc/seg tokens)");
  }
}

std::vector<int> Tokenizer::Encode(const std::string& text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  PG_CHECK(status.ok(), "tokenizer '" << path_ << "' failed to encode a text of " << text.size()
                                      << " bytes: " << status.ToString());
  return ids;
}

std::string Tokenizer::Decode(const std::vector<int>& ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (int id : ids) {
    if (id == eos_) break;
    CheckId(id, "Decode");
    kept.push_back(id);
  }
  std::string text;
  const auto status = sp_->Decode(kept, &text);
  PG_CHECK(status.ok(), "tokenizer '" << path_ << "' failed to decode " << kept.size()
                                      << " ids: " << status.ToString());
  return text;
}

std::vector<int> Tokenizer::BuildPrompt(const std::string& prefix) const {
  // Without a <bos> control piece sentencepiece reports bos_id -1, which would become an
  // embedding row of -1 (found by fuzz/tokenizer_model_fuzz; Validate also rejects it).
  PG_CHECK(bos_ >= 0, "tokenizer '" << path_ << "' has no <bos> control piece; a PaliGemma prompt starts with <bos>");
  std::vector<int> ids;
  ids.push_back(bos_);
  const std::vector<int> text = Encode(prefix);
  ids.insert(ids.end(), text.begin(), text.end());
  const std::vector<int> sep = Encode("\n");
  ids.insert(ids.end(), sep.begin(), sep.end());
  return ids;
}

std::vector<Detection> Tokenizer::ParseDetections(const std::vector<int>& ids, int image_w,
                                                  int image_h) const {
  return ParseDetectionText(Decode(ids), image_w, image_h);
}

std::vector<Detection> Tokenizer::ParseDetections(const std::string& text, int image_w,
                                                  int image_h) {
  return ParseDetectionText(text, image_w, image_h);
}

int Tokenizer::newline() const {
  PG_CHECK(newline_ >= 0, "tokenizer '" << path_ << "' does not encode \"\\n\" as one piece");
  return newline_;
}

std::string Tokenizer::IdToPiece(int id) const {
  CheckId(id, "IdToPiece");
  return sp_->IdToPiece(id);
}

int Tokenizer::PieceToId(const std::string& piece) const {
  const int id = sp_->PieceToId(piece);
  // SentencePiece maps unknown pieces to <unk>; report them as absent.
  if (id == sp_->unk_id() && piece != sp_->IdToPiece(id)) return -1;
  return id;
}

int Tokenizer::LocId(int index) const {
  PG_CHECK(index >= 0 && index < 1024, "loc index " << index << " out of range [0, 1024)");
  char piece[16];
  std::snprintf(piece, sizeof(piece), "<loc%04d>", index);
  const int id = PieceToId(piece);
  PG_CHECK(id >= 0, "tokenizer '" << path_ << "' has no " << piece << " piece");
  return id;
}

void Tokenizer::CheckId(int id, const char* what) const {
  PG_CHECK(id >= 0 && id < vocab_size_, what << ": token id " << id << " is outside [0, "
                                             << vocab_size_ << ") of tokenizer '" << path_
                                             << "'");
}

}  // namespace pg
