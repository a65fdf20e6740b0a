#include "io/mask_rle.h"

#include "runtime/check.h"

namespace pg {

std::vector<uint32_t> RleCounts(const std::vector<uint8_t>& mask, int height, int width) {
  PG_CHECK(height >= 0 && width >= 0 && mask.size() == static_cast<size_t>(height) * width,
           "RleCounts: " << mask.size() << " values for a " << height << "x" << width << " mask");
  std::vector<uint32_t> counts;
  uint8_t current = 0;
  uint32_t run = 0;
  for (int x = 0; x < width; ++x) {
    for (int y = 0; y < height; ++y) {
      const uint8_t v = mask[static_cast<size_t>(y) * width + x] != 0;
      if (v != current) {
        counts.push_back(run);
        run = 0;
        current = v;
      }
      ++run;
    }
  }
  counts.push_back(run);
  return counts;
}

std::string RleString(const std::vector<uint32_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= counts[i - 2];
    for (bool more = true; more;) {
      int64_t c = x & 0x1f;
      x >>= 5;  // arithmetic shift: negative deltas end at -1
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

std::vector<uint32_t> RleStringToCounts(const std::string& s) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    for (bool more = true; more; ++k) {
      PG_CHECK(p < s.size(), "RLE string '" << s << "' ends inside a count");
      const int64_t c = static_cast<int64_t>(s[p++]) - 48;
      PG_CHECK(c >= 0 && c < 64 && k < 12, "RLE string '" << s << "': bad character at " << p - 1);
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      if (!more && (c & 0x10)) x |= -(int64_t{1} << (5 * k + 5));
    }
    if (counts.size() > 2) x += counts[counts.size() - 2];
    PG_CHECK(x >= 0 && x <= UINT32_MAX, "RLE string '" << s << "': count " << x << " out of range");
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

}  // namespace pg
