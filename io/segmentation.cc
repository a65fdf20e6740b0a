#include "io/segmentation.h"

#include <cctype>
#include <cstring>
#include <sstream>

#include "runtime/check.h"

namespace pg {
namespace {

// If text[pos..] is "<" tag + `digits` decimal digits + ">", returns the value and advances pos;
// otherwise returns -1 and leaves pos as it was.
int MatchTag(const std::string& text, size_t& pos, const char* tag, int digits) {
  const size_t tag_len = std::strlen(tag);
  const size_t total = 1 + tag_len + static_cast<size_t>(digits) + 1;
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

bool IsBlank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

size_t SkipBlanks(const std::string& s, size_t pos) {
  while (pos < s.size() && IsBlank(s[pos])) ++pos;
  return pos;
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsBlank(s[b])) ++b;
  while (e > b && IsBlank(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// A token-looking "<loc" / "<seg" at pos (valid or not): labels must not hold one.
bool LooksLikeTag(const std::string& s, size_t pos) {
  return s.compare(pos, 4, "<loc") == 0 || s.compare(pos, 4, "<seg") == 0;
}

SegmentParse Fail(int object, size_t byte, const std::string& what) {
  std::ostringstream os;
  os << "object " << object << " (byte " << byte << "): " << what;
  SegmentParse p;
  p.error = os.str();
  return p;
}

}  // namespace

bool AnswerKindOfPrompt(const std::string& prompt, AnswerKind* kind) {
  size_t i = 0;
  while (i < prompt.size() && (prompt[i] == ' ' || prompt[i] == '\t')) ++i;
  if (prompt.compare(i, 7, "detect ") == 0) {
    *kind = AnswerKind::kDetect;
    return true;
  }
  if (prompt.compare(i, 8, "segment ") == 0) {
    *kind = AnswerKind::kSegment;
    return true;
  }
  return false;
}

SegmentParse ParseSegmentAnswer(const std::string& text, AnswerKind kind) {
  SegmentParse out;
  size_t pos = SkipBlanks(text, 0);
  if (pos == text.size()) return out;  // an empty answer: no objects
  for (int n = 1;; ++n) {
    const size_t start = pos;
    SegmentObject o;
    int locs = 0;
    for (; locs < 4; ++locs) {
      const int v = MatchTag(text, pos, "loc", 4);
      if (v < 0 || v >= kLocBins) break;
      o.loc[locs] = v;
    }
    if (locs < 4) {
      std::ostringstream os;
      os << "expected a box of 4 <loc0000>..<loc1023> tokens, found " << locs;
      return Fail(n, start, os.str());
    }
    if (!(o.loc[2] > o.loc[0] && o.loc[3] > o.loc[1])) {
      std::ostringstream os;
      os << "box <loc" << o.loc[0] << "><loc" << o.loc[1] << "><loc" << o.loc[2] << "><loc" << o.loc[3]
         << "> is out of order: [ymin, xmin, ymax, xmax] needs ymax > ymin and xmax > xmin";
      return Fail(n, start, os.str());
    }
    for (;;) {
      size_t p = pos;
      const int v = MatchTag(text, p, "seg", 3);
      if (v < 0 || v >= kMaskCodebook) break;
      o.codes.push_back(v);
      pos = p;
    }
    const int codes = static_cast<int>(o.codes.size());
    if (codes > kMaskCodes || (codes != 0 && codes < kMaskCodes) ||
        (codes == 0 && kind == AnswerKind::kSegment)) {
      std::ostringstream os;
      os << codes << " <seg000>..<seg127> tokens after the box; a mask is exactly " << kMaskCodes;
      return Fail(n, pos, os.str());
    }
    size_t end = pos;
    while (end < text.size() && text[end] != ';') {
      if (LooksLikeTag(text, end)) {
        return Fail(n, end, "a <loc>/<seg> token inside the label (objects are separated by ';')");
      }
      ++end;
    }
    o.label = Trim(text.substr(pos, end - pos));
    out.objects.push_back(std::move(o));
    if (end == text.size()) return out;
    pos = SkipBlanks(text, end + 1);  // past ';'
  }
}

Detection ObjectBox(const SegmentObject& o, int image_w, int image_h) {
  PG_CHECK(image_w > 0 && image_h > 0, "ObjectBox: image size must be positive; got " << image_w << "x" << image_h);
  auto px = [](int v, int size) { return static_cast<float>(static_cast<double>(v) * size / (kLocBins - 1)); };
  Detection d;
  d.y0 = px(o.loc[0], image_h);
  d.x0 = px(o.loc[1], image_w);
  d.y1 = px(o.loc[2], image_h);
  d.x1 = px(o.loc[3], image_w);
  d.label = o.label;
  return d;
}

}  // namespace pg
