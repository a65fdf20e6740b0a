// PaliGemma's detect / segment answers parsed strictly into objects (boxes, labels, mask codes).
//
// Grammar (big_vision pp/proj/paligemma/segmentation.py and evaluators/.../segmentation.py):
//   answer := ws | object (ws ";" ws object)* ws
//   object := <locYMIN><locXMIN><locYMAX><locXMAX> [<segDDD> x 16] label
//   label  := text up to the next ";" or the end, trimmed, holding no <loc>/<seg> token
// A box is round(v * 1023) of [ymin, xmin, ymax, xmax] in [0, 1]; big_vision only accepts a box
// with ymax > ymin and xmax > xmin, and a mask as exactly 16 codes <seg000>..<seg127> (a 4x4 grid
// of VQ-VAE codebook indices, row-major). `segment` answers need the 16 codes on every object;
// `detect` answers may carry none (or 16, kept).
//
// A malformed answer is not an exception: ParseSegmentAnswer returns no objects and an error
// that says what was wrong and where (object number, byte offset), so the record keeps the raw
// text and a parse error.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "io/detection.h"

namespace pg {

constexpr int kMaskCodes = 16;      // <seg> tokens per object: a 4x4 grid
constexpr int kMaskCodebook = 128;  // <seg000>..<seg127>
constexpr int kLocBins = 1024;      // <loc0000>..<loc1023>

enum class AnswerKind { kDetect, kSegment };

struct SegmentObject {
  std::array<int, 4> loc{};  // [ymin, xmin, ymax, xmax] in 0..1023
  std::vector<int> codes;    // [16] codebook indices in 0..127, or empty (detect without codes)
  std::string label;
};

struct SegmentParse {
  std::vector<SegmentObject> objects;  // empty when error is set
  std::string error;                   // empty = the answer is well formed
};

// "detect ..." -> kDetect, "segment ..." -> kSegment (leading blanks ignored); false otherwise.
bool AnswerKindOfPrompt(const std::string& prompt, AnswerKind* kind);

SegmentParse ParseSegmentAnswer(const std::string& text, AnswerKind kind);

// The object's box in pixels of an image_w x image_h image: loc / 1023 * size, as
// ParseDetectionText (io/detection.h) computes it.
Detection ObjectBox(const SegmentObject& o, int image_w, int image_h);

}  // namespace pg
