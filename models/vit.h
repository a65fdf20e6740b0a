// SigLIP ViT (big_vision So400m/14 layout) and the PaliGemma projector (img/head).
// Runs with full (replicated) weights: in the engine it runs on the tensor-parallel group's
// leader rank, or on every rank for its share of the images (--vit sharded).
#pragma once

#include <vector>

#include "models/model_config.h"
#include "models/weight_loader.h"
#include "runtime/backend.h"

namespace pg {

struct VitLayerWeights {
  Tensor ln0_scale, ln0_bias;          // [Dv]
  Tensor wqkv;                         // [Dv, 3 Dv]  columns [q | k | v], each heads x head_dim
  Tensor bqkv;                         // [3 Dv]
  Tensor wo, bo;                       // [Dv, Dv], [Dv]
  Tensor ln1_scale, ln1_bias;          // [Dv]
  Tensor w_fc1, b_fc1;                 // [Dv, Fv], [Fv]
  Tensor w_fc2, b_fc2;                 // [Fv, Dv], [Dv]
};

struct VitWeights {
  Tensor patch_kernel;                 // [P * P * 3, Dv]  (HWIO flattened: kh, kw, channel)
  Tensor patch_bias;                   // [Dv]
  Tensor pos_embedding;                // [Np, Dv]
  std::vector<VitLayerWeights> layers;
  Tensor norm_scale, norm_bias;        // [Dv] encoder_norm
  Tensor head_kernel, head_bias;       // [Dv, D], [D]  the projector
};

VitWeights LoadVit(WeightLoader& loader, const ModelConfig& config);

// The ViT's activations for up to `batch` images, allocated once and reused (grown only when a
// larger batch comes).
struct VitWorkspace {
  int64_t batch = 0;
  Tensor patches;            // [batch * Np, P * P * 3]
  Tensor x, normed, proj;    // [batch, Np, Dv]
  Tensor qkv;                // [batch, Np, 3 Dv]
  Tensor q, k, v, attn;      // [batch, Np, heads, head_dim]
  Tensor mlp_hidden;         // [batch, Np, Fv]
  Tensor tokens;             // [batch, Np, D_text]
  std::vector<float> host_patches;

  void Reserve(Backend& be, const ModelConfig& config, int64_t batch);
};

// pixels: host [batch, image_size, image_size, 3] in [-1, 1]
// -> image tokens [batch, Np, D_text] (projected; no scaling, as big_vision), a view of ws.tokens.
// vit_hidden (optional): host [batch, Np, Dv] after encoder_norm, for debugging.
Tensor VitForward(Backend& be, const VitWeights& w, const ModelConfig& config, const float* pixels, int batch,
                  VitWorkspace& ws, std::vector<float>* vit_hidden = nullptr);

}  // namespace pg
