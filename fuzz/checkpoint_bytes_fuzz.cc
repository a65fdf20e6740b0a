// libFuzzer target: raw bytes as an HDF5 checkpoint -> CheckpointReader, the open + validation
// every `paligemma` model command runs before loading (HDF5 signature, root attributes, config
// JSON, datasets against WeightTable(config), link kinds, dtypes, storage layout and chunk
// index via h5::CheckDatasetStorage), then, as the loader does, each dataset read whole as f32
// when it is small (<= 64 Ki elements; the seed checkpoints of fuzz/corpus are a micro config).
// HDF5 opens paths, so each input goes to a scratch file. Only pg::Error is expected.
// Mutating the HDF5 bytes themselves mostly reaches libhdf5's own parsers, which are not
// hardened against crafted files (see fuzz/README.md "libhdf5 crashes"; CheckpointReader runs
// its validation in a child process, so crashes there are errors): scripts/fuzz.sh replays this
// target's corpus always but fuzzes it only with --hdf5-bytes. The validator's own
// logic is fuzzed by checkpoint_validator_fuzz on well-formed files with fuzzed contents.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_scratch_file.h"
#include "models/checkpoint_reader.h"

namespace {

constexpr int64_t kMaxReadElements = int64_t{64} << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pg::fuzz::ScratchFile file(".h5");
  pg::fuzz::ReadAsFile(file, data, size, [](const std::string& path) {
    pg::CheckpointReader ckpt(path);
    ckpt.set_check_finite(true);
    for (const pg::WeightSpec& s : ckpt.table()) {
      if (s.num_elements > kMaxReadElements) continue;
      const std::vector<float> w = ckpt.ReadF32(s.name);
      if (static_cast<int64_t>(w.size()) != s.num_elements) __builtin_trap();
    }
  });
  return 0;
}
