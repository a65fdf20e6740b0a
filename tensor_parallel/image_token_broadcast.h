// Where the ViT runs inside a tensor-parallel group, and how the projected image tokens
// [batch, Np, D] reach every rank of the group before the shared prefill:
//   kLeader   the group leader (tp rank 0) runs the ViT on the whole batch and broadcasts the
//             image tokens (the design card's default);
//   kSharded  every rank runs the ViT on its contiguous share of the images and the shares
//             are all-gathered (needs the ViT weights on every rank).
#pragma once

#include <string>
#include <vector>

#include "models/paligemma.h"

namespace pg {

enum class VitPlacement { kLeader, kSharded };

VitPlacement ParseVitPlacement(const std::string& name);  // "leader" | "sharded"

// pixels: host [batch, S, S, 3]; only the ranks that run the ViT read it (others may pass
// an empty vector but must pass the same batch). Returns [batch, Np, D] on every rank.
std::vector<float> EncodeImagesForGroup(PaliGemma& model, VitPlacement placement, const std::vector<float>& pixels,
                                        int batch);

}  // namespace pg
