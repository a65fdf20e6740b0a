// Detection output of PaliGemma: "<locYMIN><locXMIN><locYMAX><locXMAX> label ; ..." parsed into
// boxes in pixel coordinates.
//
// Convention (big_vision evaluators/proj/paligemma/transfers/segmentation.py): a box is encoded as
// round(v * 1023) for v in [ymin, xmin, ymax, xmax] normalised to [0, 1], so it is decoded as
// loc / 1023 and then scaled by the image height (y) or width (x).
// NOTE: Google's Keras/colab demos divide by 1024 instead; the difference is < 0.1% of the image.
#pragma once

#include <string>
#include <vector>

namespace pg {

struct Detection {
  float x0, y0, x1, y1;  // pixels: (x0, y0) top-left, (x1, y1) bottom-right, as the model wrote them
  std::string label;     // text after the 4 loc tokens up to ';' (trimmed; may be empty)
};

// Parses every run of 4 consecutive `<locDDDD>` tokens in `text` into a Detection, scaled to an
// image of image_w x image_h pixels. `<segDDD>` tokens right after the box (referring
// segmentation output) are skipped, not part of the label. Runs of fewer than 4 loc tokens and
// loc values above 1023 are not detections and are ignored. Coordinates are not reordered or
// clipped. Throws pg::Error if image_w or image_h is not positive.
std::vector<Detection> ParseDetectionText(const std::string& text, int image_w, int image_h);

}  // namespace pg
