// libFuzzer target: image bytes -> the caption job's decode + preprocess path.
// DecodeImageBuffer (format from the magic bytes; JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC/AVIF: one
// target, a seed corpus per format in fuzz/corpus/image_decode) with EXIF orientation, then PreprocessImage
// to the tiny model's 64x64 input with both resize filters. max_pixels is lowered to 1 Mi so a
// forged header cannot make one input allocate and decode 192 MiB (the header check itself is
// what is exercised). Only pg::Error is an expected outcome; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include "io/image_decode.h"
#include "io/image_resize.h"
#include "runtime/check.h"

namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 20;  // 1 Mi pixels (production default: 64 Mi)
constexpr int kModelImageSize = 64;                // configs/tiny.json vision.image_size

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pg::DecodeOptions opts;
  opts.max_pixels = kMaxPixels;
  opts.exif_transpose = true;  // the EXIF block readers of every container run on every input
  opts.alpha_onto_white = (size & 1) != 0;
  try {
    const pg::Image image = pg::DecodeImageBuffer(data, size, "<fuzz>", opts);
    // Decoder contract: [height, width, 3] within the pixel limit.
    if (image.width <= 0 || image.height <= 0 || int64_t{image.width} * image.height > kMaxPixels ||
        image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
      __builtin_trap();
    for (pg::ResizeFilter f : {pg::ResizeFilter::kBilinearAntialias, pg::ResizeFilter::kBicubicPil}) {
      const std::vector<float> pixels = pg::PreprocessImage(image, kModelImageSize, f);
      if (pixels.size() != size_t{kModelImageSize} * kModelImageSize * 3) __builtin_trap();
      for (float v : pixels)
        if (!(v >= -1.f - 1e-5f && v <= 1.f + 1e-5f)) __builtin_trap();  // [-1, 1], no NaN
    }
  } catch (const pg::Error&) {
  }
  return 0;
}
