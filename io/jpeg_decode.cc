// JPEG decoding with libjpeg-turbo, matching PIL's JpegImagePlugin + convert("RGB").
//
// libjpeg reports fatal errors through error_exit, which by default calls exit(). We install
// an error_exit that formats the message and longjmps back to RunJpegDecompress(), which
// returns false; DecodeJpeg() then destroys the decompressor and throws pg::Error. No C++
// exception ever crosses libjpeg's C frames, and every object with a destructor lives in
// JpegJob (owned by DecodeJpeg, above the setjmp frame), never on the frames longjmp skips.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

// libjpeg sees only `pub`; the rest is ours (the struct-extension idiom from libjpeg's docs).
struct JpegErrorManager {
  jpeg_error_mgr pub;  // must stay first
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 128];
};

// Everything the setjmp region reads or writes. Heap-allocated and owned by DecodeJpeg.
struct JpegJob {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  bool created = false;
  const uint8_t* data = nullptr;
  size_t size = 0;
  int64_t max_pixels = 0;
  Image* out = nullptr;
  std::vector<uint8_t> row;  // one decoded scanline when it is not already RGB

  ~JpegJob() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

[[noreturn]] void OnJpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  std::snprintf(err->message, sizeof(err->message), "JPEG decode failed: %s", text);
  std::longjmp(err->jump, 1);
}

// msg_level -1 is a warning, >= 0 trace output. PIL ignores libjpeg's warnings (corrupt-data
// warnings included), so do we, except premature end of data: libjpeg would pad with a fake
// EOI and hand back grey pixels, which must be an error instead.
void OnJpegMessage(j_common_ptr cinfo, int msg_level) {
  if (msg_level != -1) return;
  cinfo->err->num_warnings++;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message),
                  "truncated JPEG data (premature end of file)");
    std::longjmp(err->jump, 1);
  }
}

// PIL reads 4-component JPEGs as "CMYK;I" (Adobe convention: stored inverted) and converts
// CMYK -> RGB with cmyk2rgb: r = clip(nk - muldiv255(c, nk)), nk = 255 - k.
void CmykRowToRgb(const uint8_t* cmyk, int width, uint8_t* rgb) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int nk = cmyk[3];  // 255 - k with k = 255 - stored
    for (int c = 0; c < 3; ++c) {
      const int ink = 255 - cmyk[c];
      const int t = ink * nk + 128;
      const int v = nk - (((t >> 8) + t) >> 8);
      rgb[c] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

// The C part. Returns false with job->err.message set on any failure.
bool RunJpegDecompress(JpegJob* job) {
  jpeg_decompress_struct* const cinfo = &job->cinfo;
  if (setjmp(job->err.jump)) return false;

  job->created = true;  // jpeg_create zeroes cinfo first, so destroy is safe from here on
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_read_header(cinfo, TRUE);

  const int64_t pixels = int64_t{cinfo->image_width} * cinfo->image_height;
  if (pixels > job->max_pixels) {
    std::snprintf(job->err.message, sizeof(job->err.message),
                  "JPEG header says %ux%u = %lld pixels, more than the limit of %lld "
                  "(--max-image-pixels)",
                  cinfo->image_width, cinfo->image_height, static_cast<long long>(pixels),
                  static_cast<long long>(job->max_pixels));
    return false;
  }
  // PIL picks the mode from the component count: 1 -> L, 3 -> RGB, 4 -> CMYK.
  switch (cinfo->num_components) {
    case 1: cinfo->out_color_space = JCS_GRAYSCALE; break;
    case 3: cinfo->out_color_space = JCS_RGB; break;
    case 4: cinfo->out_color_space = JCS_CMYK; break;  // libjpeg turns YCCK into CMYK
    default:
      std::snprintf(job->err.message, sizeof(job->err.message),
                    "unsupported JPEG with %d colour components (expected 1, 3 or 4)",
                    cinfo->num_components);
      return false;
  }
  // PIL's defaults (no draft mode): accurate integer IDCT, fancy upsampling.
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  jpeg_start_decompress(cinfo);

  Image* out = job->out;
  const int width = static_cast<int>(cinfo->output_width);
  const int comps = cinfo->output_components;
  out->width = width;
  out->height = static_cast<int>(cinfo->output_height);
  out->rgb.assign(size_t(width) * out->height * 3, 0);
  job->row.resize(size_t(width) * comps);
  while (cinfo->output_scanline < cinfo->output_height) {
    uint8_t* dst = out->rgb.data() + size_t(cinfo->output_scanline) * width * 3;
    JSAMPROW dst_row = comps == 3 ? dst : job->row.data();
    jpeg_read_scanlines(cinfo, &dst_row, 1);  // the memory source never suspends
    if (comps == 1) {
      for (int x = 0; x < width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = job->row[x];
    } else if (comps == 4) {
      CmykRowToRgb(job->row.data(), width, dst);
    }
  }
  // Reads up to EOI, so data cut off after the last scanline is still reported as truncated.
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

Image DecodeJpeg(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opts) {
  Image image;
  auto job = std::make_unique<JpegJob>();
  std::memset(&job->cinfo, 0, sizeof(job->cinfo));
  job->cinfo.err = jpeg_std_error(&job->err.pub);
  job->err.pub.error_exit = OnJpegErrorExit;
  job->err.pub.emit_message = OnJpegMessage;
  job->err.message[0] = '\0';
  job->data = data;
  job->size = size;
  job->max_pixels = opts.max_pixels;
  job->out = &image;
  const bool ok = RunJpegDecompress(job.get());
  PG_CHECK(ok, "image '" << name << "': " << job->err.message);
  return image;
}

}  // namespace pg
