// Hugging Face PaliGemma / PaliGemma 2 checkpoints -> our model: config.json -> ModelConfig,
// and each HF safetensors tensor -> the slab of a big_vision stacked dataset it fills, with
// the transpose that undoes transformers' convert_paligemma_weights_to_hf.py (MODEL_FACTS 3.2).
//
// Vocabulary rule: the engine vocabulary is text_config.vocab_size (top-level vocab_size when
// text_config has none), EXCEPT when the embedding was padded after "<image>": HF appends
// "<image>" right after the tokenizer's own ids (image_token_index == tokenizer size) and pads
// the table to a multiple of 64 rows (257152 -> 257216 for every released PaliGemma). So when
// vocab_size % 64 == 0 and image_token_index lies in [vocab_size - 64, vocab_size), the engine
// vocabulary is image_token_index. Embedding rows beyond the vocabulary are dropped. The
// override HfImportOptions::vocab_size wins over both.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/model_config.h"
#include "models/weight_table.h"

namespace pg {

struct HfImportOptions {
  std::string name;     // ModelConfig::name; empty = "hf-import"
  int max_seq_len = 0;  // 0 = num_image_tokens + 256
  int vocab_size = 0;   // 0 = the vocabulary rule above
};

// `j`: the parsed config.json. Missing fields take transformers' class defaults (GemmaConfig,
// Gemma2Config, SiglipVisionConfig), as from_pretrained does. Throws naming `source`.
ModelConfig HfConfigToModelConfig(const nlohmann::json& j, const std::string& source, const HfImportOptions& opt);
ModelConfig ReadHfConfig(const std::string& config_json_path, const HfImportOptions& opt);

// HfTransform (how an HF tensor's values are laid out relative to its destination slab) is
// declared with the weight table (models/weight_table.h), which names each tensor's transform.

struct HfTensorTarget {
  std::string dataset;                // big_vision dataset name
  std::vector<int64_t> start, count;  // the slab of `dataset` this tensor fills
  std::vector<int64_t> hf_shape;      // the HF tensor's expected shape
  HfTransform transform = HfTransform::kCopy;
  int64_t rows = 0, cols = 0;         // kTranspose: src [rows, cols]; kHeadsToGDH: [G*H, D] as G=rows/H
  int64_t head_dim = 0;               // kHeadsToGDH
  bool extra_rows_ok = false;         // the embedding: HF may hold padding rows beyond the vocabulary
};

// transformers >= 4.52 names ("model.language_model.", "model.vision_tower.",
// "model.multi_modal_projector.", "lm_head.weight"; the list is HfPrefixRenames() of the weight
// table) -> the original on-Hub names; the SigLIP tower saved without its "vision_model."
// level (transformers 5.x) gets it back.
std::string CanonicalHfName(const std::string& name);
// The tied output head ("language_model.lm_head.weight"): not stored, only checked.
bool IsTiedLmHead(const std::string& canonical_name);
// Every tensor (canonical HF name) a PaliGemma checkpoint of config `c` holds, lm_head
// excluded, with its destination: the weight table's HF sources, expanded per layer. A name
// not in the map is unknown for this config.
std::map<std::string, HfTensorTarget> HfTensorMap(const ModelConfig& c);
// Rearranges one HF tensor (src, hf_shape; for the embedding only the first count[0] rows)
// into the C-order layout of its destination slab (dst, shape t.count).
void HfToBigVision(const HfTensorTarget& t, const float* src, float* dst);

}  // namespace pg
