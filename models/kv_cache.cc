#include "models/kv_cache.h"

#include <string>

namespace pg {

KvCache KvCache::Make(Backend& be, const TextConfig& t, int kv_heads_local, int batch, int capacity) {
  KvCache c;
  c.batch = batch;
  c.capacity = capacity;
  for (int l = 0; l < t.depth; ++l) {
    const std::string tag = "kv_cache.layer" + std::to_string(l);
    c.k.push_back(be.AllocKvCache(tag + ".k", {batch, capacity, kv_heads_local, t.head_dim}));
    c.v.push_back(be.AllocKvCache(tag + ".v", {batch, capacity, kv_heads_local, t.head_dim}));
  }
  return c;
}

size_t KvCache::bytes() const {
  size_t n = 0;
  for (const Tensor& t : k) n += t.bytes();
  for (const Tensor& t : v) n += t.bytes();
  return n;
}

}  // namespace pg
