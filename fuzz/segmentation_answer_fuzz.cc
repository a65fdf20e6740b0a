// libFuzzer target: bytes as a model's answer to a detect / segment prompt -> the record path of
// caption_job/segment_fields.cc without the decoder:
//   ParseSegmentAnswer (io/segmentation.h) -> ObjectBox -> PasteMask of a fixed 64x64 mask into a
//   small image -> RleCounts -> RleString -> RleStringToCounts; and RleStringToCounts on the raw
//   bytes. Byte 0 picks the kind (detect / segment) and bytes 1-2 the image size (1..64 each).
// Only pg::Error is expected from RleStringToCounts on raw bytes; the parser never throws.
// Verdicts (__builtin_trap): a parsed object that breaks the grammar's promises, an RLE that
// does not cover the image or does not round-trip.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/mask_paste.h"
#include "io/mask_rle.h"
#include "io/segmentation.h"
#include "runtime/check.h"

namespace {

const std::vector<float>& FixedMask() {
  static const std::vector<float> m = [] {
    std::vector<float> v(64 * 64);
    for (int i = 0; i < 64 * 64; ++i) v[i] = std::sin(0.37f * static_cast<float>(i % 64)) + std::cos(0.21f * (i / 64));
    return v;
  }();
  return m;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const pg::AnswerKind kind = (data[0] & 1) ? pg::AnswerKind::kSegment : pg::AnswerKind::kDetect;
  const int w = 1 + data[1] % 64, h = 1 + data[2] % 64;
  const std::string text(reinterpret_cast<const char*>(data + 3), size - 3);
  const pg::SegmentParse p = pg::ParseSegmentAnswer(text, kind);
  Check(p.error.empty() || p.objects.empty());
  for (const pg::SegmentObject& o : p.objects) {
    Check(o.loc[2] > o.loc[0] && o.loc[3] > o.loc[1] && o.loc[0] >= 0 && o.loc[3] < pg::kLocBins);
    Check(o.codes.size() == 16 || (o.codes.empty() && kind == pg::AnswerKind::kDetect));
    Check(o.label.find("<loc") == std::string::npos && o.label.find("<seg") == std::string::npos);
    const pg::Detection d = pg::ObjectBox(o, w, h);
    Check(d.x0 <= d.x1 && d.y0 <= d.y1 && d.x1 <= w && d.y1 <= h);
    const std::vector<uint8_t> full = pg::PasteMask(FixedMask(), 64, 64, o.loc, w, h);
    const std::vector<uint32_t> counts = pg::RleCounts(full, h, w);
    uint64_t total = 0;
    for (uint32_t c : counts) total += c;
    Check(total == static_cast<uint64_t>(w) * h);
    Check(pg::RleStringToCounts(pg::RleString(counts)) == counts);
  }
  try {
    (void)pg::RleStringToCounts(text);
  } catch (const pg::Error&) {
  }
  return 0;
}
