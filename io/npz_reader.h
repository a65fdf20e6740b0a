// Reads numpy .npz archives (big_vision / Kaggle PaliGemma checkpoints) member by member.
// Supported: .npy format versions 1, 2 and 3; C order; dtypes '<f4' (float32), '<f2'
// (float16) and '|V2' / '<V2' (bfloat16 saved by numpy as 2-byte void, as big_vision does;
// reinterpreted like big_vision's recover_dtype). Opening parses the zip directory and every
// member's .npy header (cheap); data is only read when a member is streamed, so a 12 GB
// archive needs memory for one piece at a time. Every malformed input is a pg::Error naming
// the file and the member.
//
//   NpzReader npz(path);
//   for (const NpzMember& m : npz.members()) {
//     auto s = npz.Open(m);            // m.name, m.shape, m.dtype
//     s->Read(buf, n); ... s->Finish();  // or npz.ReadAsF32(m) for the whole member
//   }
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/zip_archive.h"

namespace pg {

enum class NpyDType { kF32, kF16, kBF16 };
const char* NpyDTypeName(NpyDType t);  // "float32 '<f4'", "float16 '<f2'", "bfloat16 '|V2'"
size_t NpyDTypeSize(NpyDType t);

struct NpzMember {
  std::string name;             // archive name without ".npy", e.g. "params/img/embedding/kernel"
  std::vector<int64_t> shape;   // () for a scalar
  NpyDType dtype = NpyDType::kF32;
  int64_t num_elements = 0;
  size_t entry = 0;             // index into the zip entries
  uint64_t header_bytes = 0;    // bytes of the .npy header before the data
};

// Parses the text of a .npy header dict ("{'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }") into `m`; `where` names the file and member in errors.
void ParseNpyHeaderDict(const std::string& dict, NpzMember* m, const std::string& where);

class NpzReader {
 public:
  explicit NpzReader(const std::string& path);
  ~NpzReader();

  const std::string& path() const { return zip_.path(); }
  const std::vector<NpzMember>& members() const { return members_; }
  // The member named `name` (without ".npy"), or nullptr.
  const NpzMember* Find(const std::string& name) const;

  // Streams one member's elements, converted to f32.
  class Stream {
   public:
    Stream(const NpzReader& npz, const NpzMember& m);
    ~Stream();
    // The next n elements into dst; throws if fewer remain or the data is corrupt.
    void Read(float* dst, int64_t n);
    int64_t remaining() const { return member_.num_elements - read_; }
    // Call after the last Read: throws unless everything was read and the CRC matches.
    void Finish();

   private:
    const NpzReader& npz_;
    const NpzMember& member_;
    std::unique_ptr<ZipMemberStream> bytes_;
    std::vector<unsigned char> buf_;
    int64_t read_ = 0;
  };
  std::unique_ptr<Stream> Open(const NpzMember& m) const;
  // The whole member as f32 (CRC checked).
  std::vector<float> ReadAsF32(const NpzMember& m) const;

 private:
  ZipArchive zip_;
  std::vector<NpzMember> members_;
};

}  // namespace pg
