#include "tensor_parallel/image_token_broadcast.h"

#include <algorithm>

namespace pg {

VitPlacement ParseVitPlacement(const std::string& name) {
  if (name == "leader") return VitPlacement::kLeader;
  if (name == "sharded") return VitPlacement::kSharded;
  PG_THROW("--vit must be 'leader' or 'sharded', got '" << name << "'");
}

std::vector<float> EncodeImagesForGroup(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                        int batch) {
  const ModelConfig& c = model.config();
  const TpGroup& tp = model.tp();
  const size_t per_image = static_cast<size_t>(c.num_image_tokens()) * c.text.width;
  const size_t pixels_per_image = static_cast<size_t>(c.vision.image_size) * c.vision.image_size * 3;
  if (!tp.parallel()) return model.EncodeImages(pixels.data(), batch);

  if (placement == VitPlacement::kLeader) {
    std::vector<float> tokens;
    if (tp.leader()) {
      tokens = model.EncodeImages(pixels.data(), batch);
    } else {
      tokens.resize(per_image * batch);
    }
    tp.comm->BroadcastHost(tokens.data(), tokens.size() * sizeof(float), 0);
    return tokens;
  }

  // kSharded: rank r encodes images [r * share, min(batch, (r + 1) * share)); the last shares
  // may be short or empty, so every rank sends a full `share` block (zero padded).
  const int share = (batch + tp.size - 1) / tp.size;
  const int first = std::min(batch, tp.rank * share), last = std::min(batch, first + share);
  std::vector<float> mine(per_image * share, 0.f);
  if (last > first) {
    PG_CHECK(pixels.size() >= pixels_per_image * last, "EncodeImagesForGroup: pixels for " << batch
                                                                                           << " images expected");
    std::vector<float> t = model.EncodeImages(pixels.data() + pixels_per_image * first, last - first);
    std::copy(t.begin(), t.end(), mine.begin());
  }
  std::vector<float> all(per_image * share * tp.size);
  AllGatherHost(*tp.comm, mine.data(), all.data(), mine.size());
  all.resize(per_image * batch);  // rank blocks are in image order; drop the padding at the end
  return all;
}

}  // namespace pg
