// Conversion of the two source formats into a paligemma-tp HDF5 checkpoint, streamed: a
// big_vision .npz is read member by member in pieces of whole layers (or row blocks), an HF
// safetensors checkpoint tensor by tensor, and stacked datasets are filled with WriteSlab, so
// memory stays at about one layer of the largest tensor. The output is written to
// OUTPUT.tmp, re-opened with the validating CheckpointReader, then renamed to OUTPUT.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "convert/hf_import.h"
#include "models/model_config.h"
#include "runtime/dtype.h"

namespace pg {

struct ConvertOptions {
  std::string output;                           // final .h5 path
  std::optional<DType> dtype;                   // default: bf16 if every source tensor is bf16, else f32
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

struct ConvertResult {
  ModelConfig config;
  DType dtype = DType::kF32;
  int64_t source_tensors = 0;
};

// `npz_path`: big_vision/Kaggle checkpoint (keys with or without "params/"). Every member
// must be a weight of `config` with its exact shape, and every weight must be present.
ConvertResult ConvertNpz(const std::string& npz_path, const ModelConfig& config, const ConvertOptions& opt);

// `input`: an HF model directory (config.json + model.safetensors or the sharded index), or
// a .safetensors / index .json file with config.json beside it. When `expected` is given, the
// model derived from config.json must match it (architecture and tokens); its name,
// max_seq_len and vocabulary are used (the HF embedding must have at least that many rows). Otherwise `hf` supplies name / max_seq_len / vocab overrides.
ConvertResult ConvertHf(const std::string& input, const ModelConfig* expected, const HfImportOptions& hf,
                        const ConvertOptions& opt);

}  // namespace pg
