// PaliGemma: SigLIP ViT + projector + Gemma decoder, loaded from one HDF5 checkpoint with
// this rank's tensor-parallel shard of the decoder. The prefix-LM input of sequence b is
//   [Np image tokens] [<bos> prompt "\n"] -> one bidirectional block (prefix),
// and every generated token attends causally to everything before it.
#pragma once

#include <memory>
#include <vector>

#include "models/checkpoint_reader.h"
#include "models/gemma.h"
#include "models/vit.h"

namespace pg {

struct PaliGemmaLoadOptions {
  bool load_vit = true;  // false on tensor-parallel followers when the leader runs the ViT
  // Threads for f32 <-> bf16 conversion while loading. The jobs keep 1: on a shared machine
  // OpenMP workers spinning between blocks slowed the HDF5 reads (docs/BENCHMARKS.md, loading).
  int threads = 1;
};

class PaliGemma {
 public:
  PaliGemma(const CheckpointReader& checkpoint, Backend& backend, TpGroup tp, const PaliGemmaLoadOptions& options);

  const ModelConfig& config() const { return config_; }
  Backend& backend() { return be_; }
  GemmaDecoder& decoder() { return *decoder_; }
  bool has_vit() const { return vit_ != nullptr; }
  const TpGroup& tp() const { return tp_; }
  size_t weight_bytes() const { return weight_bytes_; }  // as the backend stores them

  // pixels: host [batch, S, S, 3] in [-1, 1] -> host image tokens [batch, Np, D].
  std::vector<float> EncodeImages(const float* pixels, int batch, std::vector<float>* vit_hidden = nullptr);
  // pixels: host [batch, S, S, 3] -> out rows [0, batch * Np) of out [>= batch, Np, D] (a backend
  // tensor: the image tokens stay on the device, no host copy).
  void EncodeImagesInto(const float* pixels, int batch, Tensor& out);

  // Text embeddings are multiplied by sqrt(D), rounded to the checkpoint dtype as
  // big_vision's Embedder does (exact sqrt for f32 checkpoints, 45.25 for bf16 at D=2048).
  float text_embed_scale() const { return text_scale_; }

 private:
  ModelConfig config_;
  Backend& be_;
  TpGroup tp_;
  std::unique_ptr<VitWeights> vit_;
  VitWorkspace vit_ws_;
  std::unique_ptr<GemmaDecoder> decoder_;
  float text_scale_ = 1.f;
  size_t weight_bytes_ = 0;
};

}  // namespace pg
