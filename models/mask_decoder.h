// The VQ-VAE mask decoder of PaliGemma's referring segmentation (big_vision
// evaluators/proj/paligemma/transfers/segmentation.py, checkpoint vae-oid.npz): 16 <seg> codes
// -> a 64x64 mask. big_vision's Decoder, in PyTorch-checkpoint terms:
//   x = codebook[codes] as a 4x4 grid           [B, 4, 4, E]       (E = 512 in vae-oid.npz)
//   x = relu(conv1x1(x))  decoder.0             [B, 4, 4, 128]
//   2 x ResBlock: x + conv1x1(relu(conv3x3(relu(conv3x3(x)))))      decoder.{2,3}.net.{0,2,4}
//   4 x relu(ConvTranspose(k 4, stride 2, pad 1))   decoder.{4,6,8,10}: 128->128->64->32->16,
//       4x4 -> 8x8 -> 16x16 -> 32x32 -> 64x64   (flax ConvTranspose(padding=2,
//       transpose_kernel=True) on the PyTorch kernel, i.e. torch's ConvTranspose2d(padding=1))
//   x = conv1x1(x)        decoder.12            [B, 64, 64, 1]: logits, > 0 is the object
//
// The npz is read as big_vision reads it: PyTorch tensor names and layouts (conv weight
// [out, in, kh, kw], transposed-conv weight [in, out, kh, kw]), any float dtype the npz reader
// takes; other members (an encoder) are ignored. The codebook may have any width E.
//
// Compute: every convolution is a Backend::MatMul (im2col for 3x3 convolutions; GEMM then
// col2im for the transposed ones), the codebook lookup is Backend::Embed; the layout steps
// (im2col, col2im, ReLU, residual adds: O(activations), ~1% of the FLOPs) run on the host
// between them, so the decoder uses only ops every backend has. CpuBackend computes in fp32;
// CudaBackend's GEMMs are bf16.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/backend.h"

namespace pg {

class MaskDecoder {
 public:
  static constexpr int kMaskSize = 64;

  // Throws pg::Error naming `npz_path` and the tensor when one is missing or mis-shaped.
  MaskDecoder(const std::string& npz_path, Backend& backend);
  ~MaskDecoder();

  // codes: [B * 16] codebook indices in [0, 128), each object's 16 codes row-major over the
  // 4x4 grid -> masks [B, 64, 64] row-major (logits). Throws on a code out of range.
  std::vector<float> Decode(const std::vector<int>& codes) const;

  int codebook_size() const;
  int embedding_dim() const;

 private:
  struct Weights;
  Backend& be_;
  std::unique_ptr<Weights> w_;
};

}  // namespace pg
