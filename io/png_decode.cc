// PNG decoding with libpng, matching PIL's PngImagePlugin + convert("RGB").
//
// libpng reports fatal errors through an error callback that must not return. Ours formats
// the message and longjmps back to RunPngRead(), which returns false; DecodePng() then
// destroys the read struct (PngJob's destructor) and throws pg::Error. Everything with a
// destructor lives in PngJob, above the setjmp frame, so longjmp skips no destructor.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "io/alpha_composite.h"
#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

struct PngJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::jmp_buf jump;
  char message[512] = {0};
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  int64_t max_pixels = 0;
  bool alpha_onto_white = false;
  Image* out = nullptr;
  std::vector<uint8_t> raw;           // decoded rows: [rows, rowbytes]
  std::vector<png_bytep> row_ptrs;    // interlaced images only: one per row of `raw`

  ~PngJob() {
    if (png != nullptr) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

[[noreturn]] void OnPngError(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "PNG decode failed: %s", msg);
  std::longjmp(job->jump, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}  // PIL ignores ancillary-chunk problems too

void OnPngRead(png_structp png, png_bytep dst, size_t n) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (job->size - job->pos < n) {
    std::snprintf(job->message, sizeof(job->message),
                  "truncated PNG data (the file ends after %zu bytes)", job->size);
    std::longjmp(job->jump, 1);
  }
  std::memcpy(dst, job->data + job->pos, n);
  job->pos += n;
}

// One decoded row (after libpng's palette / low-bit-grey expansion) to RGB, PIL-style.
//   row: [width, channels] samples of `depth` bits (16-bit samples are big-endian).
// 16-bit grey alone is PIL mode "I;16", whose RGB conversion clips at 255; every other
// 16-bit layout is unpacked by PIL keeping the high byte. Alpha (channels 2 and 4) is dropped,
// or with `onto_white` composited onto opaque white as HF's convert_to_rgb does
// (Image.alpha_composite(white, im.convert("RGBA")), Pillow AlphaComposite.c fixed point).
void RowToRgb(const uint8_t* row, int width, int channels, int depth, bool grey16_clips,
              bool onto_white, uint8_t* rgb) {
  const int bytes = depth / 8;
  const bool has_alpha = channels == 2 || channels == 4;
  for (int x = 0; x < width; ++x, row += channels * bytes, rgb += 3) {
    if (onto_white && has_alpha) {
      const int a = row[(channels - 1) * bytes];
      for (int c = 0; c < 3; ++c) rgb[c] = OntoWhite(row[(channels == 4 ? c : 0) * bytes], a);
      continue;
    }
    if (channels >= 3) {
      for (int c = 0; c < 3; ++c) rgb[c] = row[c * bytes];
      continue;
    }
    uint8_t grey = row[0];
    if (grey16_clips) {
      const int v = (row[0] << 8) | row[1];
      grey = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
    rgb[0] = rgb[1] = rgb[2] = grey;
  }
}

// A chunk type for a message: its 4 bytes if they are letters, else hex.
std::string JsonSafeChunkType(const std::string& type) {
  for (char c : type)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
      static const char kHex[] = "0123456789abcdef";
      std::string hex = "0x";
      for (char b : type) {
        hex += kHex[(static_cast<uint8_t>(b) >> 4) & 15];
        hex += kHex[static_cast<uint8_t>(b) & 15];
      }
      return hex;
    }
  return type;
}

// Largest ancillary chunk libpng may allocate (an ICC profile or an EXIF block is far smaller).
constexpr png_alloc_size_t kMaxPngChunkBytes = png_alloc_size_t{16} << 20;

// The C part. Returns false with job->message set on any failure.
bool RunPngRead(PngJob* job) {
  png_structp const png = job->png;
  png_infop const info = job->info;
  if (setjmp(job->jump)) return false;

  png_set_read_fn(png, job, OnPngRead);
  // Ancillary chunks (eXIf, iCCP, text, ...) are allocated by their declared length: cap it, so a
  // corrupt length is an error, not a 1.5 GB allocation (found by fuzz/image_decode_fuzz.cc).
  png_set_chunk_malloc_max(png, kMaxPngChunkBytes);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, nullptr,
               nullptr);
  const int64_t pixels = int64_t{width} * height;
  if (pixels > job->max_pixels) {
    std::snprintf(job->message, sizeof(job->message),
                  "PNG header says %ux%u = %lld pixels, more than the limit of %lld "
                  "(--max-image-pixels)",
                  width, height, static_cast<long long>(pixels),
                  static_cast<long long>(job->max_pixels));
    return false;
  }
  // Palette -> RGB (RGBA when tRNS is present; the alpha is dropped below). 1/2/4-bit grey is
  // scaled to 8 bits (x255, x85, x17), as PIL's "1", "L;2", "L;4" unpackers do. tRNS on grey
  // or RGB images is left alone: PIL's convert("RGB") ignores it.
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  const int depth = png_get_bit_depth(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  const bool grey16_clips = color_type == PNG_COLOR_TYPE_GRAY && depth == 16;
  if (channels < 1 || channels > 4 || (depth != 8 && depth != 16)) {
    std::snprintf(job->message, sizeof(job->message),
                  "unsupported PNG layout: %d channels of %d bits after expansion", channels,
                  depth);
    return false;
  }
  Image* out = job->out;
  out->width = static_cast<int>(width);
  out->height = static_cast<int>(height);
  out->rgb.assign(size_t(width) * height * 3, 0);
  if (interlace == PNG_INTERLACE_NONE) {
    job->raw.resize(rowbytes);
    for (png_uint_32 y = 0; y < height; ++y) {
      png_read_row(png, job->raw.data(), nullptr);
      RowToRgb(job->raw.data(), out->width, channels, depth, grey16_clips, job->alpha_onto_white,
               out->rgb.data() + size_t(y) * width * 3);
    }
  } else {  // Adam7: libpng needs the whole image to assemble the passes
    job->raw.resize(rowbytes * height);
    job->row_ptrs.resize(height);
    for (png_uint_32 y = 0; y < height; ++y) job->row_ptrs[y] = job->raw.data() + y * rowbytes;
    png_read_image(png, job->row_ptrs.data());
    for (png_uint_32 y = 0; y < height; ++y) {
      RowToRgb(job->row_ptrs[y], out->width, channels, depth, grey16_clips, job->alpha_onto_white,
               out->rgb.data() + size_t(y) * width * 3);
    }
  }
  // Reads the chunks up to IEND (checking the last IDAT's CRC): a file cut after the pixel
  // data is still reported as truncated.
  png_read_end(png, nullptr);
  return true;
}

}  // namespace

// Walks the chunk headers before libpng does: an ancillary chunk (anything but IDAT) whose
// declared length runs past the end of the file is corrupt. libpng would allocate that length
// first (an eXIf chunk claiming 1.5 GB in 260 bytes, found by fuzz/image_decode_fuzz.cc).
static void CheckPngChunkLengths(const uint8_t* data, size_t size, const std::string& name) {
  size_t off = 8;  // after the signature
  while (off + 8 <= size) {
    const uint64_t length = (uint64_t{data[off]} << 24) | (uint64_t{data[off + 1]} << 16) |
                            (uint64_t{data[off + 2]} << 8) | uint64_t{data[off + 3]};
    const std::string type(reinterpret_cast<const char*>(data) + off + 4, 4);
    if (type == "IEND") return;
    const uint64_t left = size - off - 8;  // bytes after this chunk's header
    if (length + 4 > left) {
      if (type == "IDAT") return;  // a truncated image: libpng reports it
      PG_THROW("image '" << name << "': corrupt PNG: chunk '" << JsonSafeChunkType(type) << "' at byte " << off
                         << " declares " << length << " bytes, more than the " << left << " left in the file");
    }
    off += 12 + static_cast<size_t>(length);
  }
}

Image DecodePng(const uint8_t* data, size_t size, const std::string& name,
                const DecodeOptions& opts) {
  CheckPngChunkLengths(data, size, name);
  Image image;
  auto job = std::make_unique<PngJob>();
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job.get(), OnPngError, OnPngWarning);
  PG_CHECK(job->png != nullptr, "image '" << name << "': cannot create a libpng reader");
  job->info = png_create_info_struct(job->png);
  PG_CHECK(job->info != nullptr, "image '" << name << "': cannot create a libpng info struct");
  job->data = data;
  job->size = size;
  job->max_pixels = opts.max_pixels;
  job->alpha_onto_white = opts.alpha_onto_white;
  job->out = &image;
  const bool ok = RunPngRead(job.get());
  PG_CHECK(ok, "image '" << name << "': " << job->message);
  return image;
}

}  // namespace pg
