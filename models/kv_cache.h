// KvCache: preallocated keys and values for every decoder layer, one row of slots per
// sequence. Slot s of sequence b holds the token at position s (0-based over the image
// tokens, then the prompt, then the generated tokens), so positions need no bookkeeping.
#pragma once

#include <vector>

#include "models/model_config.h"
#include "runtime/backend.h"

namespace pg {

struct KvCache {
  std::vector<Tensor> k, v;  // per layer: [batch, capacity, kv_heads_local, head_dim] (Backend::AllocKvCache: f32 / CUDA bf16)
  int batch = 0;
  int capacity = 0;

  static KvCache Make(Backend& be, const TextConfig& t, int kv_heads_local, int batch, int capacity);
  size_t bytes() const;
};

}  // namespace pg
