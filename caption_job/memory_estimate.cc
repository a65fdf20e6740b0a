#include "caption_job/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/check.h"

namespace pg {

CaptionMemoryEstimate EstimateCaptionMemory(const ModelConfig& c, const RankShapes& r, int64_t slots,
                                            int max_new_tokens, int64_t prefetch_images) {
  const TextConfig& t = c.text;
  const VisionConfig& v = c.vision;
  constexpr int64_t kF = 4;  // float32
  CaptionMemoryEstimate e;
  e.slots = slots;
  e.capacity = c.max_seq_len;
  // models/kv_cache.cc: k and v per layer, [slots, capacity, kv_heads_local, head_dim].
  e.kv_cache = 2 * int64_t{t.depth} * slots * e.capacity * r.kv_heads_local * t.head_dim * kF;
  // GemmaDecoder::Reserve(rows, batch) as ContinuousBatcher calls it.
  const int64_t rows = std::max<int64_t>({4096, c.max_seq_len - max_new_tokens, slots});
  const int64_t D = t.width, hd = t.head_dim, H = r.heads_local, KH = r.kv_heads_local, F = r.d_ff_local;
  const int64_t per_row = 4 * D + (H + 2 * KH) * hd + 2 * H * hd + 2 * KH * hd + 3 * F;
  e.decoder_workspace = (rows * per_row + slots * (D + r.vocab_local)) * kF;
  // VitWorkspace::Reserve for `slots` images plus the host copy of the patches.
  const int64_t Np = v.num_patches(), Dv = v.width, P = v.patch_size;
  const int64_t vit_per_image = Np * (2 * P * P * 3 + 3 * Dv + 3 * Dv + 4 * Dv + v.mlp_dim + D);
  e.vit_workspace = slots * vit_per_image * kF;
  e.prefetched_images = prefetch_images * int64_t{v.image_size} * v.image_size * 3 * kF;
  return e;
}

int64_t CaptionSlots(int64_t batch, int64_t pending_images) {
  return std::max<int64_t>(1, std::min(batch, pending_images));
}

int64_t HostMemAvailableBytes() {
  if (const char* v = std::getenv("PG_DEBUG_MEM_AVAILABLE_BYTES")) return std::atoll(v);
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  return -1;
}

std::string FormatBytes(int64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof(buf), "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024)
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / (1024.0 * 1024));
  else if (b >= 1024.0)
    std::snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024.0);
  else
    std::snprintf(buf, sizeof(buf), "%lld B", static_cast<long long>(bytes));
  return buf;
}

void CheckCaptionMemoryFits(const CaptionMemoryEstimate& e, int64_t available_bytes, int batch_flag,
                            const ModelConfig& c, const RankShapes& r, int max_new_tokens,
                            int64_t prefetch_images) {
  if (available_bytes < 0 || e.total() <= available_bytes) return;
  // The largest slot count that fits (the estimate grows with the slots).
  int64_t lo = 0, hi = e.slots;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (EstimateCaptionMemory(c, r, mid, max_new_tokens, std::min(prefetch_images, 2 * mid)).total() <= available_bytes)
      lo = mid;
    else
      hi = mid - 1;
  }
  std::ostringstream os;
  os << "--batch " << batch_flag << ": " << e.slots << " KV-cache slots need an estimated " << FormatBytes(e.total())
     << " on this rank (KV cache " << FormatBytes(e.kv_cache) << " = 2 x " << c.text.depth << " layers x " << e.slots
     << " slots x " << e.capacity << " tokens x " << r.kv_heads_local << " kv heads x " << c.text.head_dim
     << " x 4 bytes; decoder workspace " << FormatBytes(e.decoder_workspace) << "; ViT workspace "
     << FormatBytes(e.vit_workspace) << "; prefetched images " << FormatBytes(e.prefetched_images)
     << "), more than the " << FormatBytes(available_bytes) << " available to it (MemAvailable / ranks on this host); ";
  if (lo >= 1)
    os << "use --batch " << lo << " or less";
  else
    os << "not even --batch 1 fits: free memory or use more hosts";
  PG_THROW(os.str());
}

}  // namespace pg
