#include "models/vit.h"

#include "models/weight_names.h"

#include <cmath>
#include <string>

namespace pg {
namespace {

namespace wn = weight_names;

// im2col: pixels [B, S, S, 3] -> patches [B * Np, P * P * 3], each row ordered (kh, kw, c)
// to match the flattened HWIO conv kernel; patches are row-major over the grid.
void ExtractPatches(const float* pixels, int batch, const VisionConfig& v, std::vector<float>& out) {
  const int S = v.image_size, P = v.patch_size, G = v.grid();
  out.resize(static_cast<size_t>(batch) * G * G * P * P * 3);
  size_t o = 0;
  for (int b = 0; b < batch; ++b)
    for (int gy = 0; gy < G; ++gy)
      for (int gx = 0; gx < G; ++gx)
        for (int ky = 0; ky < P; ++ky)
          for (int kx = 0; kx < P; ++kx)
            for (int c = 0; c < 3; ++c)
              out[o++] = pixels[((static_cast<size_t>(b) * S + gy * P + ky) * S + gx * P + kx) * 3 + c];
}

}  // namespace

VitWeights LoadVit(WeightLoader& ld, const ModelConfig& config) {
  const VisionConfig& v = config.vision;
  const int64_t Dv = v.width, Fv = v.mlp_dim, P = v.patch_size;
  VitWeights w;
  w.patch_kernel = ld.Whole(wn::kPatchKernel, {P * P * 3, Dv});
  w.patch_bias = ld.Whole(wn::kPatchBias, {Dv});
  w.pos_embedding = ld.Whole(wn::kPosEmbedding, {v.num_patches(), Dv});
  for (int l = 0; l < v.depth; ++l) {
    const std::string tag = "vit.layer" + std::to_string(l) + ".";
    VitLayerWeights L;
    L.ln0_scale = ld.Layer(wn::kVitLn0Scale, l, false, {Dv}, tag + "ln0.scale");
    L.ln0_bias = ld.Layer(wn::kVitLn0Bias, l, false, {Dv}, tag + "ln0.bias");
    // query / key / value kernels [Dv, Nv, Hv] and biases [Nv, Hv] read straight into one
    // fused [Dv, 3 Dv] kernel and one [3 Dv] bias (columns [q | k | v]): one GEMM with one bias.
    Tensor wqkv = ld.Stage(tag + "wqkv", {Dv, 3 * Dv}), bqkv = ld.Stage(tag + "bqkv", {3 * Dv});
    const std::pair<const char*, const char*> parts[] = {{wn::kVitQueryKernel, wn::kVitQueryBias},
                                                         {wn::kVitKeyKernel, wn::kVitKeyBias},
                                                         {wn::kVitValueKernel, wn::kVitValueBias}};
    for (int part = 0; part < 3; ++part) {
      const auto& [kernel, bias] = parts[part];
      ld.ReadColumns(kernel, ld.LayerSlab(kernel, l, false), wqkv, part * Dv);  // [1, Dv, Nv, Hv]
      ld.ReadColumns(bias, ld.LayerSlab(bias, l, false), bqkv, part * Dv);      // [1, Nv, Hv]
    }
    L.wqkv = ld.Finish(std::move(wqkv));
    L.bqkv = ld.Finish(std::move(bqkv));
    L.wo = ld.Layer(wn::kVitOutKernel, l, false, {Dv, Dv}, tag + "wo");
    L.bo = ld.Layer(wn::kVitOutBias, l, false, {Dv}, tag + "bo");
    L.ln1_scale = ld.Layer(wn::kVitLn1Scale, l, false, {Dv}, tag + "ln1.scale");
    L.ln1_bias = ld.Layer(wn::kVitLn1Bias, l, false, {Dv}, tag + "ln1.bias");
    L.w_fc1 = ld.Layer(wn::kVitFc1Kernel, l, false, {Dv, Fv}, tag + "fc1.w");
    L.b_fc1 = ld.Layer(wn::kVitFc1Bias, l, false, {Fv}, tag + "fc1.b");
    L.w_fc2 = ld.Layer(wn::kVitFc2Kernel, l, false, {Fv, Dv}, tag + "fc2.w");
    L.b_fc2 = ld.Layer(wn::kVitFc2Bias, l, false, {Dv}, tag + "fc2.b");
    w.layers.push_back(std::move(L));
  }
  w.norm_scale = ld.Whole(wn::kVitNormScale, {Dv});
  w.norm_bias = ld.Whole(wn::kVitNormBias, {Dv});
  w.head_kernel = ld.Whole(wn::kProjectorKernel, {Dv, config.text.width});
  w.head_bias = ld.Whole(wn::kProjectorBias, {config.text.width});
  return w;
}

void VitWorkspace::Reserve(Backend& be, const ModelConfig& config, int64_t want) {
  if (want <= batch) return;
  const VisionConfig& vc = config.vision;
  const int64_t B = want, Np = vc.num_patches(), Dv = vc.width, Fv = vc.mlp_dim, P = vc.patch_size;
  const int64_t heads = vc.num_heads, hd = vc.head_dim();
  batch = B;
  // f32 (Alloc): the residual stream x and the image tokens; the rest (patches included: the
  // GEMM reads them as bf16 anyway) in the backend's activation precision (CUDA: bf16).
  patches = be.AllocActivation("vit.patches", {B * Np, P * P * 3});
  x = be.Alloc("vit.x", {B, Np, Dv});
  normed = be.AllocActivation("vit.ln_out", {B, Np, Dv});
  proj = be.AllocActivation("vit.proj", {B, Np, Dv});
  qkv = be.AllocActivation("vit.qkv", {B, Np, 3 * Dv});
  q = be.AllocActivation("vit.q", {B, Np, heads, hd});
  k = be.AllocActivation("vit.k", {B, Np, heads, hd});
  v = be.AllocActivation("vit.v", {B, Np, heads, hd});
  attn = be.AllocActivation("vit.attn", {B, Np, heads, hd});
  mlp_hidden = be.AllocActivation("vit.mlp_hidden", {B, Np, Fv});
  tokens = be.Alloc("image_tokens", {B, Np, config.text.width});
}

Tensor VitForward(Backend& be, const VitWeights& w, const ModelConfig& config, const float* pixels, int batch,
                  VitWorkspace& ws, std::vector<float>* vit_hidden) {
  const VisionConfig& v = config.vision;
  const int64_t B = batch, Np = v.num_patches(), Dv = v.width, Fv = v.mlp_dim, P = v.patch_size;
  const int64_t heads = v.num_heads, hd = v.head_dim();
  ws.Reserve(be, config, B);

  // Stem: Conv(P, stride P) as a GEMM over patches, + bias, + learned position embedding.
  ExtractPatches(pixels, batch, v, ws.host_patches);
  Tensor patch_in = ws.patches.Prefix({B * Np, P * P * 3});
  be.CopyFromHost(ws.host_patches.data(), patch_in);
  Tensor x = ws.x.Prefix({B, Np, Dv});
  be.MatMul(patch_in, w.patch_kernel, &w.patch_bias, x);
  be.AddBatchBroadcast(x, w.pos_embedding);

  Tensor h = ws.normed.Prefix({B, Np, Dv});
  Tensor qkv = ws.qkv.Prefix({B, Np, 3 * Dv});
  Tensor q = ws.q.Prefix({B, Np, heads, hd});
  Tensor k = ws.k.Prefix({B, Np, heads, hd});
  Tensor val = ws.v.Prefix({B, Np, heads, hd});
  Tensor attn = ws.attn.Prefix({B, Np, heads, hd});
  Tensor proj = ws.proj.Prefix({B, Np, Dv});
  Tensor mlp_h = ws.mlp_hidden.Prefix({B, Np, Fv});
  AttentionMask mask;  // bidirectional over the patches
  mask.q_start.assign(B, 0);
  mask.kv_len.assign(B, static_cast<int>(Np));
  mask.prefix_len.assign(B, static_cast<int>(Np));
  AttentionParams ap;
  ap.scale = 1.f / std::sqrt(static_cast<float>(hd));

  for (const VitLayerWeights& L : w.layers) {
    // SiglipEncoderLayer: x = x + attn(layer_norm1(x))
    be.LayerNorm(x, L.ln0_scale, L.ln0_bias, v.norm_eps, h);
    be.MatMul(h, L.wqkv, &L.bqkv, qkv);
    be.SplitQkvRope(qkv, {}, 0.f, q, k, val);
    be.Attention(q, k, val, mask, ap, attn);
    be.MatMul(attn, L.wo, &L.bo, proj);
    be.Add(x, proj);
    // x = x + mlp(layer_norm2(x)), mlp = fc2(gelu_tanh(fc1(.)))
    be.LayerNorm(x, L.ln1_scale, L.ln1_bias, v.norm_eps, h);
    be.MatMulGelu(h, L.w_fc1, L.b_fc1, mlp_h);  // gelu_tanh(fc1(.)) in one pass after the GEMM
    be.MatMul(mlp_h, L.w_fc2, &L.b_fc2, proj);
    be.Add(x, proj);
  }
  // post_layernorm (encoder_norm), then the projector (img/head), per token.
  be.LayerNorm(x, w.norm_scale, w.norm_bias, v.norm_eps, h);
  if (vit_hidden) {
    vit_hidden->resize(h.numel());
    be.Download(h, vit_hidden->data());
  }
  Tensor tokens = ws.tokens.Prefix({B, Np, config.text.width});
  be.MatMul(h, w.head_kernel, &w.head_bias, tokens);
  return tokens;
}

}  // namespace pg
