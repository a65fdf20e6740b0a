// Writes the generated seed inputs of fuzz/corpus/ (the image and prompt seeds are plain
// files copied by hand): small valid npz archives and safetensors files covering every dtype,
// npy version and zip variant the readers support, and micro-config HDF5 checkpoints
// (fuzz/micro_config.h) in f32 and bf16, made by the engine's own CheckpointWriter. Built by
// fuzz/CMakeLists.txt as `make_seed_corpus`; fuzz/README.md has the full regeneration recipe
// (this, then h5repack for the latest-format variants).
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz/micro_config.h"
#include "models/random_checkpoint.h"
#include "runtime/check.h"
#include "tests/source_writers_test_util.h"

namespace {

using pg::testing::NpyBytes;
using pg::testing::StTensor;
using pg::testing::ZipMember;

// Four-float-or-word payloads are enough: the readers' logic is in the headers.
std::string Bytes(size_t n, uint8_t first) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + 7 * i);
  return s;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  PG_CHECK(out.good(), "cannot write " << path);
  std::cout << path << " (" << bytes.size() << " bytes)\n";
}

void WriteNpzSeeds(const std::string& dir) {
  const std::vector<ZipMember> members = {
      {"params/img/embedding/kernel.npy", NpyBytes("<f4", {2, 3}, Bytes(24, 0x3c), 1), false},
      {"params/llm/embedder/input_embedding.npy", NpyBytes("<f2", {4}, Bytes(8, 0x3a), 2), true},
      {"params/img/head/bias.npy", NpyBytes("|V2", {2, 2}, Bytes(8, 0x3f), 3), false},
      {"params/scalar.npy", NpyBytes("<f4", {}, Bytes(4, 0x40), 1), true}};
  WriteFile(dir + "/seed_mixed.npz", pg::testing::ZipBytes(members, false));
  WriteFile(dir + "/seed_mixed_zip64.npz", pg::testing::ZipBytes(members, true));
}

void WriteSafetensorsSeeds(const std::string& dir) {
  const std::vector<StTensor> tensors = {{"model.embed.weight", "F32", {2, 3}, Bytes(24, 0x3c)},
                                         {"model.norm.weight", "F16", {4}, Bytes(8, 0x3a)},
                                         {"lm_head.weight", "BF16", {2, 2}, Bytes(8, 0x3f)}};
  WriteFile(dir + "/seed_mixed.safetensors", pg::testing::SafetensorsBytes(tensors));
  WriteFile(dir + "/seed_one.safetensors", pg::testing::SafetensorsBytes({tensors[0]}));
}

void WriteCheckpointSeeds(const std::string& dir) {
  const pg::ModelConfig c = pg::fuzz::MicroConfig();
  for (pg::DType dt : {pg::DType::kF32, pg::DType::kBF16}) {
    pg::RandomCheckpointOptions o;
    o.dtype = dt;
    o.seed = 1;
    const std::string path = dir + (dt == pg::DType::kF32 ? "/micro_f32.h5" : "/micro_bf16.h5");
    pg::WriteRandomCheckpoint(c, path, o);
    std::cout << path << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seed_corpus CORPUS_DIR (e.g. fuzz/corpus)\n";
    return 2;
  }
  const std::string root = argv[1];
  try {
    WriteNpzSeeds(root + "/npz_reader");
    WriteSafetensorsSeeds(root + "/safetensors_reader");
    WriteCheckpointSeeds(root + "/checkpoint_bytes");
  } catch (const std::exception& e) {
    std::cerr << "make_seed_corpus: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
