// libFuzzer target: the HDF5 checkpoint open + validation every `paligemma` model command runs
// before loading (CheckpointReader: root attributes, config JSON, datasets against
// WeightTable(config), link kinds, element types, storage layout and chunk index), then every
// dataset read as f32 with the NaN/Inf scan on, as the loader does. Structure-aware: the fuzz
// bytes drive fuzz/fuzzed_checkpoint.h, which has libhdf5 write a well-formed file with fuzzed
// contents and says whether the reader must accept or reject it. Findings: a crash or sanitizer
// report, any exception other than pg::Error, a valid checkpoint rejected, or an invalid one
// accepted (each printed, then __builtin_trap). Raw-byte HDF5 fuzzing: checkpoint_bytes_fuzz.
// The files are well formed, so the child-process copy of the validation (runtime/run_in_child.h,
// there for libhdf5 crashes on corrupt metadata) is switched off: the validator's logic runs
// in-process, at 5x the executions per second.
#include <cstddef>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz/fuzz_scratch_file.h"
#include "fuzz/fuzzed_checkpoint.h"
#include "models/checkpoint_reader.h"
#include "runtime/check.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PG_NO_CHILD_CHECKS", "1", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static pg::fuzz::ScratchFile file(".h5");
  static pg::fuzz::ScratchFile external(".ext");  // raw data of externally stored datasets
  FuzzedDataProvider fdp(data, size);
  pg::fuzz::FuzzedCheckpoint ckpt_file(fdp, file.path(), external.path());
  const pg::fuzz::Verdict verdict = ckpt_file.Write();
  std::string error;
  try {
    pg::CheckpointReader ckpt(file.path());
    ckpt.set_check_finite(true);
    for (const pg::WeightSpec& s : ckpt.table()) {
      const std::vector<float> w = ckpt.ReadF32(s.name);
      if (static_cast<int64_t>(w.size()) != s.num_elements) __builtin_trap();
    }
  } catch (const pg::Error& e) {
    error = e.what();
  }
  if (verdict == pg::fuzz::Verdict::kAccept && !error.empty()) {
    std::fprintf(stderr, "checkpoint_validator_fuzz: a valid checkpoint was rejected: %s\n", error.c_str());
    __builtin_trap();
  }
  if (verdict == pg::fuzz::Verdict::kReject && error.empty()) {
    std::fprintf(stderr, "checkpoint_validator_fuzz: accepted a checkpoint with %s\n", ckpt_file.why().c_str());
    __builtin_trap();
  }
  return 0;
}
