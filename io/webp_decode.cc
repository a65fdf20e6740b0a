// WebP decoding with libwebp, matching PIL's WebPImagePlugin + convert("RGB").
//
// PIL decodes every WebP (still or animated) with libwebp's WebPAnimDecoder into RGBA (RGB
// when the file has no alpha) and shows the first frame composited on a transparent canvas.
// We do the same through the same API, so the pixels are libwebp's own: lossless files match
// PIL exactly, lossy ones up to libwebp version differences in the YUV -> RGB step (the
// fixtures record the measured difference). Alpha is dropped, or composited onto white with
// DecodeOptions::alpha_onto_white.
#include <webp/decode.h>
#include <webp/demux.h>

#include <memory>

#include "io/alpha_composite.h"
#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

const char* StatusText(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated WebP data";
  }
  return "unknown error";
}

struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

}  // namespace

Image DecodeWebp(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opts) {
  // Header first: the canvas size, checked before libwebp allocates the canvas.
  WebPBitstreamFeatures features;
  const VP8StatusCode st = WebPGetFeatures(data, size, &features);
  PG_CHECK(st == VP8_STATUS_OK, "image '" << name << "': WebP header: " << StatusText(st));
  const int64_t pixels = int64_t{features.width} * features.height;
  PG_CHECK(features.width > 0 && features.height > 0,
           "image '" << name << "': WebP header says " << features.width << "x" << features.height);
  PG_CHECK(pixels <= opts.max_pixels, "image '" << name << "': WebP header says " << features.width << "x"
                                                << features.height << " = " << pixels
                                                << " pixels, more than the limit of " << opts.max_pixels
                                                << " (--max-image-pixels)");
  WebPAnimDecoderOptions dec_opts;
  PG_CHECK(WebPAnimDecoderOptionsInit(&dec_opts), "image '" << name << "': libwebp version mismatch");
  dec_opts.color_mode = MODE_RGBA;  // unpremultiplied, as PIL asks for
  dec_opts.use_threads = 0;
  const WebPData webp_data{data, size};
  std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> dec(WebPAnimDecoderNew(&webp_data, &dec_opts));
  PG_CHECK(dec != nullptr, "image '" << name << "': invalid or truncated WebP data (libwebp cannot parse it)");
  WebPAnimInfo info;
  PG_CHECK(WebPAnimDecoderGetInfo(dec.get(), &info), "image '" << name << "': invalid WebP container");
  PG_CHECK(int64_t{info.canvas_width} * info.canvas_height <= opts.max_pixels &&
               info.canvas_width == uint32_t(features.width) && info.canvas_height == uint32_t(features.height),
           "image '" << name << "': WebP canvas " << info.canvas_width << "x" << info.canvas_height
                     << " disagrees with its header or is over the pixel limit");
  uint8_t* rgba = nullptr;  // [height, width, 4], owned by the decoder
  int timestamp = 0;
  PG_CHECK(WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp) && rgba != nullptr,
           "image '" << name << "': WebP decode failed (corrupt or truncated frame data)");
  Image image;
  image.width = static_cast<int>(info.canvas_width);
  image.height = static_cast<int>(info.canvas_height);
  image.rgb.resize(size_t(image.width) * image.height * 3);
  const bool onto_white = opts.alpha_onto_white && features.has_alpha;
  for (int y = 0; y < image.height; ++y)
    RgbaRowToRgb(rgba + size_t(y) * image.width * 4, image.width, onto_white,
                 image.rgb.data() + size_t(y) * image.width * 3);
  return image;
}

}  // namespace pg
