// HEIC / AVIF decoding with libheif (Debian 12: HEVC through libde265, AV1 through dav1d or
// libaom), the primary image, matching what PIL shows with the pillow-heif plugin (HEIC) or
// Pillow's own AVIF plugin + convert("RGB").
//
// libheif applies the irot / imir / clap transformations of the primary image by default (as
// pillow-heif does), so the pixels come out upright and the EXIF orientation tag inside a HEIF
// file is NOT applied again (image_decode.h). The YCbCr -> RGB step is libheif's own; PIL's
// libraries (a newer libheif; libavif for AVIF) round differently, so pixels agree with PIL up
// to a small difference that tests/image_formats_test.cc measures and bounds. Alpha is dropped,
// or composited onto white with DecodeOptions::alpha_onto_white.
#include <libheif/heif.h>

#include <algorithm>
#include <memory>

#include "io/alpha_composite.h"
#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct HeifDeleter {
  void operator()(heif_context* c) const { heif_context_free(c); }
  void operator()(heif_image_handle* h) const { heif_image_handle_release(h); }
  void operator()(heif_image* i) const { heif_image_release(i); }
  void operator()(heif_decoding_options* o) const { heif_decoding_options_free(o); }
};

void Check(const heif_error& e, const std::string& name, const char* what) {
  PG_CHECK(e.code == heif_error_Ok, "image '" << name << "': HEIF " << what << ": "
                                              << (e.message != nullptr ? e.message : "error"));
}

}  // namespace

Image DecodeHeif(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opts) {
  std::unique_ptr<heif_context, HeifDeleter> ctx(heif_context_alloc());
  PG_CHECK(ctx != nullptr, "image '" << name << "': cannot create a libheif context");
  Check(heif_context_read_from_memory_without_copy(ctx.get(), data, size, nullptr), name, "container");
  heif_image_handle* raw_handle = nullptr;
  Check(heif_context_get_primary_image_handle(ctx.get(), &raw_handle), name, "primary image");
  std::unique_ptr<heif_image_handle, HeifDeleter> handle(raw_handle);
  // Size after the transformations, from the container, before anything is decoded.
  const int64_t w = heif_image_handle_get_width(handle.get()), h = heif_image_handle_get_height(handle.get());
  PG_CHECK(w > 0 && h > 0, "image '" << name << "': HEIF image of " << w << "x" << h);
  PG_CHECK(w * h <= opts.max_pixels, "image '" << name << "': HEIF header says " << w << "x" << h << " = " << w * h
                                               << " pixels, more than the limit of " << opts.max_pixels
                                               << " (--max-image-pixels)");
  const bool has_alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;
  std::unique_ptr<heif_decoding_options, HeifDeleter> dopts(heif_decoding_options_alloc());
  dopts->ignore_transformations = 0;
  heif_image* raw_image = nullptr;
  Check(heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB,
                          has_alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, dopts.get()),
        name, "decode");
  std::unique_ptr<heif_image, HeifDeleter> img(raw_image);
  int stride = 0;
  const uint8_t* px = heif_image_get_plane_readonly(img.get(), heif_channel_interleaved, &stride);
  const int iw = heif_image_get_width(img.get(), heif_channel_interleaved);
  const int ih = heif_image_get_height(img.get(), heif_channel_interleaved);
  const int channels = has_alpha ? 4 : 3;
  PG_CHECK(px != nullptr && iw > 0 && ih > 0 && int64_t{iw} * ih <= opts.max_pixels && stride >= iw * channels,
           "image '" << name << "': HEIF decoder returned no usable " << iw << "x" << ih << " image");
  Image image;
  image.width = iw, image.height = ih;
  image.rgb.resize(size_t(iw) * ih * 3);
  for (int y = 0; y < ih; ++y) {
    const uint8_t* row = px + size_t(y) * stride;
    uint8_t* out = image.rgb.data() + size_t(y) * iw * 3;
    if (has_alpha) {
      RgbaRowToRgb(row, iw, opts.alpha_onto_white, out);
    } else {
      std::copy(row, row + size_t(iw) * 3, out);
    }
  }
  return image;
}

}  // namespace pg
