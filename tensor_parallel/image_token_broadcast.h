// Where the ViT runs inside a tensor-parallel group, and how the projected image tokens
// [batch, Np, D] reach every rank of the group before the shared prefill:
//   kLeader   the group leader (tp rank 0) runs the ViT on the whole batch and broadcasts the
//             image tokens (the design card's default);
//   kSharded  every rank runs the ViT on its contiguous share of the images and the shares
//             are all-gathered (needs the ViT weights on every rank).
// The tokens stay in backend memory: the ViT writes them into a backend tensor and the group's
// data plane (TpGroup::comm) moves them, so with CUDA they go device to device over NCCL with no
// host copy, straight into the tensor the prefill copies its rows from
// (GenerationInput::image_tokens_on_backend); on the CPU backend the data plane is the MPI
// communicator on host memory, as before.
#pragma once

#include <string>
#include <vector>

#include "models/paligemma.h"

namespace pg {

enum class VitPlacement { kLeader, kSharded };

VitPlacement ParseVitPlacement(const std::string& name);  // "leader" | "sharded"

// The images [first, last) of a batch of `batch` that this rank runs the ViT on: all of them on
// the leader (kLeader) or at tp 1, none on the other ranks; a contiguous share of
// ceil(batch / tp) under kSharded (the last shares may be short or empty).
struct ImageRange {
  int first = 0, last = 0;
};
ImageRange VitShare(const TpGroup& tp, VitPlacement placement, int batch);

// Optional phase split for `paligemma bench`: with barriers, the group waits before the ViT and
// before the exchange, so each phase's time is its own (not the wait for another rank's ViT).
struct EncodeTiming {
  bool barriers = false;
  double vit_s = 0, exchange_s = 0;  // accumulated
};

// pixels: host [batch, S, S, 3]; a rank reads only its VitShare (others may pass an empty
// vector, or zeros there, but must pass the same batch). Returns image tokens [batch, Np, D] f32
// on the model's backend on every rank (an empty tensor for batch 0). Moves no image-token bytes
// through the host (BackendStats); the leader uploads the pixels it encodes.
Tensor EncodeImagesForGroupOnBackend(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                     int batch, EncodeTiming* timing = nullptr);

// The same, downloaded: host [batch, Np, D] on every rank (tests and tools that want host
// tokens).
std::vector<float> EncodeImagesForGroup(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                        int batch, EncodeTiming* timing = nullptr);

}  // namespace pg
