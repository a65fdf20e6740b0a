// From the VQ-VAE decoder's 64x64 mask to a binary mask of the whole image, as big_vision's
// segmentation evaluator does it (evaluators/proj/paligemma/transfers/segmentation.py):
//   y0, x0, y1, x1 = int(ymin / 1023 * H), int(xmin / 1023 * W), int(ymax / 1023 * H), ...
//   box = PIL.Image.fromarray(mask64).resize([x1 - x0, y1 - y0], BILINEAR) > 0.0
//   full[y0:y1, x0:x1] = box          (nothing when the box is empty after int())
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace pg {

// Pillow's ImagingResample with the BILINEAR (triangle) filter on a single-channel float image
// ("F" mode): separable, horizontal pass then vertical, the filter widened by the scale when
// shrinking (antialiasing), weights normalised per output pixel, sums in double, results stored
// as float after each pass. A pass whose size does not change is skipped, as Pillow does.
//   in: [in_h, in_w] row-major -> [out_h, out_w] row-major. Sizes must be positive.
std::vector<float> ResizeBilinearPil(const std::vector<float>& in, int in_h, int in_w, int out_h, int out_w);

// The box of loc = [ymin, xmin, ymax, xmax] (0..1023) in pixels, int()-truncated like big_vision:
// [y0, x0, y1, x1].
std::array<int, 4> MaskBoxPixels(const std::array<int, 4>& loc, int image_w, int image_h);

// mask: [mask_h, mask_w] decoder output (logits; > 0 is the object) -> [image_h, image_w]
// row-major, 1 inside the object, 0 elsewhere.
std::vector<uint8_t> PasteMask(const std::vector<float>& mask, int mask_h, int mask_w, const std::array<int, 4>& loc,
                               int image_w, int image_h);

}  // namespace pg
