// libFuzzer target: bytes as a big_vision .npz -> NpzReader (zip central directory, local
// headers, zip64, .npy headers) and then every member streamed to f32 in 4 Ki-element pieces
// with the CRC check, exactly as `paligemma convert --from npz` reads it. The reader takes a
// path, so each input is written to a scratch file first. Only pg::Error is expected.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_scratch_file.h"
#include "io/npz_reader.h"

namespace {

constexpr int64_t kPieceElements = 4096;  // floats per Stream::Read (the converter uses larger)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pg::fuzz::ScratchFile file(".npz");
  pg::fuzz::ReadAsFile(file, data, size, [](const std::string& path) {
    pg::NpzReader npz(path);
    std::vector<float> piece(kPieceElements);
    for (const pg::NpzMember& m : npz.members()) {
      if (npz.Find(m.name) == nullptr) __builtin_trap();
      try {
        auto stream = npz.Open(m);
        while (stream->remaining() > 0) stream->Read(piece.data(), std::min(stream->remaining(), kPieceElements));
        stream->Finish();
      } catch (const pg::Error&) {  // one bad member: the others are still read
      }
    }
  });
  return 0;
}
