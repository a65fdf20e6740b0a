#include "io/detection.h"

#include <cctype>
#include <cstring>

#include "runtime/check.h"

namespace pg {
namespace {

constexpr int kNumLocBins = 1024;  // <loc0000>..<loc1023>

// If text[pos..] starts with "<" tag + `digits` decimal digits + ">", returns the value and
// advances pos; otherwise returns -1 and leaves pos unchanged.
int MatchTag(const std::string& text, size_t& pos, const char* tag, int digits) {
  const size_t tag_len = std::strlen(tag);
  const size_t total = 1 + tag_len + digits + 1;
  if (pos + total > text.size() || text[pos] != '<' || text.compare(pos + 1, tag_len, tag) != 0 ||
      text[pos + total - 1] != '>') {
    return -1;
  }
  int value = 0;
  for (int i = 0; i < digits; ++i) {
    const char c = text[pos + 1 + tag_len + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    value = value * 10 + (c - '0');
  }
  pos += total;
  return value;
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

std::vector<Detection> ParseDetectionText(const std::string& text, int image_w, int image_h) {
  PG_CHECK(image_w > 0 && image_h > 0, "ParseDetections: image size must be positive; got "
                                           << image_w << "x" << image_h);
  std::vector<Detection> out;
  size_t pos = 0;
  while (pos < text.size()) {
    // Find the next run of 4 valid loc tokens starting at pos.
    size_t p = pos;
    int loc[4];
    int n = 0;
    for (; n < 4; ++n) {
      loc[n] = MatchTag(text, p, "loc", 4);
      if (loc[n] < 0 || loc[n] >= kNumLocBins) break;
    }
    if (n < 4) {
      // Not a box here: skip past what matched (at least one char) and keep scanning.
      pos = (p > pos) ? p : pos + 1;
      continue;
    }
    // Skip segmentation tokens that follow the box.
    while (MatchTag(text, p, "seg", 3) >= 0) {
    }
    // The label runs to the next ';' or the next loc token, whichever comes first.
    size_t end = p;
    while (end < text.size() && text[end] != ';') {
      size_t probe = end;
      if (MatchTag(text, probe, "loc", 4) >= 0) break;
      ++end;
    }
    // [ymin, xmin, ymax, xmax] in 1/1023 units -> pixels.
    auto px = [](int v, int size) {
      return static_cast<float>(static_cast<double>(v) * size / (kNumLocBins - 1));
    };
    Detection d;
    d.y0 = px(loc[0], image_h);
    d.x0 = px(loc[1], image_w);
    d.y1 = px(loc[2], image_h);
    d.x1 = px(loc[3], image_w);
    d.label = Trim(text.substr(p, end - p));
    out.push_back(std::move(d));
    pos = (end < text.size() && text[end] == ';') ? end + 1 : end;
  }
  return out;
}

}  // namespace pg
