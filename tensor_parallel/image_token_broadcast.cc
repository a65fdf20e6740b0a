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

Tensor EncodeImagesForGroupOnBackend(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                     int batch, EncodeTiming* timing) {
  const ModelConfig& c = model.config();
  const TpGroup& tp = model.tp();
  Backend& be = model.backend();
  const int64_t Np = c.num_image_tokens(), D = c.text.width;
  const size_t per_image = static_cast<size_t>(Np) * D;
  const size_t pixels_per_image = static_cast<size_t>(c.vision.image_size) * c.vision.image_size * 3;
  const ImageRange mine = VitShare(tp, placement, batch);
  auto now = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  auto barrier = [&] {
    if (timing && timing->barriers && tp.parallel()) tp.comm->Barrier();
  };
  if (batch == 0) return Tensor{};  // every rank of the group has the same batch: no collective
  const bool sharded = tp.parallel() && placement == VitPlacement::kSharded;
  // Sharded: every rank sends a full `share` block, zero padded, so short or empty last shares
  // work; the rank blocks are in image order and the padding is at the end.
  const int64_t share = sharded ? (batch + tp.size - 1) / tp.size : batch;
  Tensor all = be.Alloc("image_tokens", {sharded ? share * tp.size : batch, Np, D});  // zero-filled
  Tensor own = sharded ? be.Alloc("image_tokens.share", {share, Np, D}) : all;

  // This rank's images through the ViT, straight into backend memory.
  barrier();
  double t0 = now();
  if (mine.last > mine.first) {
    PG_CHECK(pixels.size() >= pixels_per_image * mine.last,
             "EncodeImagesForGroup: " << pixels.size() / pixels_per_image << " images' pixels for a batch of " << batch);
    model.EncodeImagesInto(pixels.data() + pixels_per_image * mine.first, mine.last - mine.first, own);
  }
  if (timing) timing->vit_s += now() - t0;
  if (!tp.parallel()) return all;

  // The tokens to every rank over the data plane (NCCL on device buffers with CUDA; MPI on host
  // buffers with the CPU backend): the leader's broadcast, or an all-gather of the shares.
  barrier();
  t0 = now();
  if (placement == VitPlacement::kLeader) {
    tp.comm->Broadcast(all.data, all.bytes(), 0);
  } else {
    tp.comm->AllGather(static_cast<const float*>(own.data), static_cast<float*>(all.data), share * per_image);
  }
  if (timing) timing->exchange_s += now() - t0;
  return all.Prefix({batch, Np, D});
}

std::vector<float> EncodeImagesForGroup(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                        int batch, EncodeTiming* timing) {
  const Tensor tokens = EncodeImagesForGroupOnBackend(model, placement, pixels, batch, timing);
  std::vector<float> host(tokens.empty() ? 0 : tokens.numel());
  if (!host.empty()) model.backend().Download(tokens, host.data());
  return host;
}

}  // namespace pg
