#include "models/paligemma.h"

#include <cmath>

#include "models/weight_table.h"

namespace pg {

PaliGemma::PaliGemma(const CheckpointReader& ckpt, Backend& be, TpGroup tp, const PaliGemmaLoadOptions& options)
    : config_(ckpt.config()), be_(be), tp_(tp) {
  CheckTensorParallel(config_, tp.size);
  WeightLoader loader(ckpt, be, tp.rank, tp.size, options.threads);
  if (options.load_vit) vit_ = std::make_unique<VitWeights>(LoadVit(loader, config_));
  decoder_ = std::make_unique<GemmaDecoder>(config_, LoadGemma(loader, config_), tp);
  weight_bytes_ = loader.bytes_loaded();
  const float s = static_cast<float>(std::sqrt(static_cast<double>(config_.text.width)));
  text_scale_ = ckpt.dtype() == DType::kBF16 ? RoundToBf16(s) : s;
}

std::vector<float> PaliGemma::EncodeImages(const float* pixels, int batch, std::vector<float>* vit_hidden) {
  if (batch == 0) return {};
  PG_CHECK(vit_, "this rank did not load the vision tower (it runs on the tensor-parallel leader)");
  Tensor tokens = VitForward(be_, *vit_, config_, pixels, batch, vit_ws_, vit_hidden);
  std::vector<float> host(tokens.numel());
  be_.Download(tokens, host.data());
  return host;
}

void PaliGemma::EncodeImagesInto(const float* pixels, int batch, Tensor& out) {
  if (batch == 0) return;
  PG_CHECK(vit_, "this rank did not load the vision tower (it runs on the tensor-parallel leader)");
  const int64_t Np = config_.num_image_tokens(), D = config_.text.width;
  PG_CHECK(out.rank() == 3 && out.dim(0) >= batch && out.dim(1) == Np && out.dim(2) == D,
           "image tokens '" << out.name << "' " << ShapeStr(out.shape) << " cannot hold [" << batch << ", " << Np
                            << ", " << D << "]");
  Tensor tokens = VitForward(be_, *vit_, config_, pixels, batch, vit_ws_, nullptr);  // [batch, Np, D]
  be_.CopyRows(tokens.Reshaped({batch * Np, D}), 0, out, 0, batch * Np);
}

}  // namespace pg
