// libFuzzer target: bytes as one .safetensors file -> SafetensorsReader (8-byte header length,
// JSON header, dtypes, shapes, data offsets) and then every tensor read to f32 in row ranges of
// at most 4 Ki elements with ReadRangeAsF32, as the HF converter streams large tensors. The
// reader takes a path, so each input is written to a scratch file. Only pg::Error is expected.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz/fuzz_scratch_file.h"
#include "io/safetensors_reader.h"

namespace {

constexpr int64_t kPieceElements = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pg::fuzz::ScratchFile file(".safetensors");
  pg::fuzz::ReadAsFile(file, data, size, [size](const std::string& path) {
    pg::SafetensorsReader st(path);
    std::vector<float> piece(kPieceElements);
    for (const pg::SafetensorsTensor& t : st.tensors()) {
      if (st.Find(t.name) == nullptr) __builtin_trap();
      // A validated header promises the bytes are in the file: reads must then succeed.
      if (t.bytes != static_cast<uint64_t>(t.num_elements) * pg::SafetensorsDTypeSize(t.dtype) ||
          t.offset + t.bytes > size)
        __builtin_trap();
      for (int64_t start = 0; start < t.num_elements; start += kPieceElements)
        st.ReadRangeAsF32(t.name, start, std::min(t.num_elements - start, kPieceElements), piece.data());
    }
  });
  return 0;
}
