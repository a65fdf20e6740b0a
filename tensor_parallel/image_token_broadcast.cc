#include "tensor_parallel/image_token_broadcast.h"

#include <algorithm>
#include <chrono>

namespace pg {

VitPlacement ParseVitPlacement(const std::string& name) {
  if (name == "leader") return VitPlacement::kLeader;
  if (name == "sharded") return VitPlacement::kSharded;
  PG_THROW("--vit must be 'leader' or 'sharded', got '" << name << "'");
}

ImageRange VitShare(const TpGroup& tp, VitPlacement placement, int batch) {
  if (!tp.parallel()) return {0, batch};
  if (placement == VitPlacement::kLeader) return {0, tp.leader() ? batch : 0};
  const int share = (batch + tp.size - 1) / tp.size;
  const int first = std::min(batch, tp.rank * share);
  return {first, std::min(batch, first + share)};
}

std::vector<float> EncodeImagesForGroup(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                        int batch, EncodeTiming* timing) {
  const ModelConfig& c = model.config();
  const TpGroup& tp = model.tp();
  const size_t per_image = static_cast<size_t>(c.num_image_tokens()) * c.text.width;
  const size_t pixels_per_image = static_cast<size_t>(c.vision.image_size) * c.vision.image_size * 3;
  const ImageRange mine = VitShare(tp, placement, batch);
  auto now = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  auto barrier = [&] {
    if (timing && timing->barriers && tp.parallel()) tp.comm->Barrier();
  };

  // This rank's images through the ViT.
  barrier();
  double t0 = now();
  std::vector<float> encoded;  // [last - first, Np, D]
  if (mine.last > mine.first) {
    PG_CHECK(pixels.size() >= pixels_per_image * mine.last,
             "EncodeImagesForGroup: " << pixels.size() / pixels_per_image << " images' pixels for a batch of " << batch);
    encoded = model.EncodeImages(pixels.data() + pixels_per_image * mine.first, mine.last - mine.first);
  }
  if (timing) timing->vit_s += now() - t0;
  if (!tp.parallel()) return encoded;

  // The tokens to every rank: the leader's broadcast, or an all-gather of the shares (every
  // rank sends a full `share` block, zero padded, so short or empty last shares work).
  barrier();
  t0 = now();
  std::vector<float> all;
  if (placement == VitPlacement::kLeader) {
    all = tp.leader() ? std::move(encoded) : std::vector<float>(per_image * batch);
    tp.comm->BroadcastHost(all.data(), all.size() * sizeof(float), 0);
  } else {
    const size_t share = static_cast<size_t>((batch + tp.size - 1) / tp.size);
    encoded.resize(per_image * share, 0.f);
    all.resize(per_image * share * tp.size);
    AllGatherHost(*tp.comm, encoded.data(), all.data(), encoded.size());
    all.resize(per_image * batch);  // rank blocks are in image order; drop the padding at the end
  }
  if (timing) timing->exchange_s += now() - t0;
  return all;
}

}  // namespace pg
