// EXIF orientation: finding the EXIF block in each container, reading tag 274, and the eight
// PIL transposes (ImageOps.exif_transpose).
#include "io/exif_orientation.h"

#include <cstring>
#include <utility>
#include <vector>

namespace pg {
namespace {

uint32_t Read16(const uint8_t* p, bool le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
uint32_t Read32(const uint8_t* p, bool le) {
  return le ? uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24
            : uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// JPEG: markers from SOI up to SOS; the first APP1 whose payload starts "Exif\0\0".
int JpegOrientation(const uint8_t* d, size_t n) {
  size_t pos = 2;
  while (pos + 4 <= n) {
    if (d[pos] != 0xFF) return 1;
    const uint8_t marker = d[pos + 1];
    if (marker == 0xFF) { ++pos; continue; }  // fill byte
    if (marker == 0xDA || marker == 0xD9) return 1;  // SOS / EOI: no EXIF before the scan
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { pos += 2; continue; }
    const size_t len = Read16(d + pos + 2, false);
    if (len < 2 || len > n - pos - 2) return 1;
    const uint8_t* payload = d + pos + 4;
    if (marker == 0xE1 && len - 2 >= 6 && std::memcmp(payload, "Exif\0\0", 6) == 0)
      return OrientationFromTiffBlock(payload, len - 2);
    pos += 2 + len;
  }
  return 1;
}

// PNG: chunks after the 8-byte signature; the eXIf chunk.
int PngOrientation(const uint8_t* d, size_t n) {
  size_t pos = 8;
  while (pos + 12 <= n) {
    const size_t len = Read32(d + pos, false);
    if (len > n - pos - 12) return 1;
    if (std::memcmp(d + pos + 4, "eXIf", 4) == 0) return OrientationFromTiffBlock(d + pos + 8, len);
    if (std::memcmp(d + pos + 4, "IEND", 4) == 0) return 1;
    pos += 12 + len;
  }
  return 1;
}

// WebP: RIFF chunks after "RIFF" size "WEBP"; the EXIF chunk (chunks are padded to even sizes).
int WebpOrientation(const uint8_t* d, size_t n) {
  size_t pos = 12;
  while (pos + 8 <= n) {
    const size_t len = Read32(d + pos + 4, true);
    if (len > n - pos - 8) return 1;
    if (std::memcmp(d + pos, "EXIF", 4) == 0) return OrientationFromTiffBlock(d + pos + 8, len);
    pos += 8 + len + (len & 1);
  }
  return 1;
}

// out[y][x] = in[sy][sx] for an output of out_w x out_h; `src` maps (x, y) to (sx, sy).
template <typename Src>
void Remap(const Image& in, int out_w, int out_h, Src src, Image* out) {
  out->width = out_w;
  out->height = out_h;
  out->rgb.resize(in.rgb.size());
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      const std::pair<int, int> s = src(x, y);
      const uint8_t* p = &in.rgb[(size_t(s.second) * in.width + s.first) * 3];
      uint8_t* q = &out->rgb[(size_t(y) * out_w + x) * 3];
      q[0] = p[0], q[1] = p[1], q[2] = p[2];
    }
  }
}

}  // namespace

int OrientationFromTiffBlock(const uint8_t* d, size_t n) {
  if (n >= 6 && std::memcmp(d, "Exif\0\0", 6) == 0) d += 6, n -= 6;
  if (n < 8) return 1;
  bool le;
  if (std::memcmp(d, "II*\0", 4) == 0) le = true;
  else if (std::memcmp(d, "MM\0*", 4) == 0) le = false;
  else return 1;
  const size_t ifd = Read32(d + 4, le);
  if (ifd > n - 2 || ifd < 8) return 1;
  const size_t count = Read16(d + ifd, le);
  for (size_t i = 0; i < count; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (n < 12 || e > n - 12) return 1;  // (n - 12 would wrap)
    if (Read16(d + e, le) != 274) continue;
    const uint32_t type = Read16(d + e + 2, le), values = Read32(d + e + 4, le);
    if (values != 1) return 1;
    const uint32_t v = type == 3 ? Read16(d + e + 8, le) : type == 4 ? Read32(d + e + 8, le) : 1;
    return v >= 1 && v <= 8 ? int(v) : 1;
  }
  return 1;
}

int ExifOrientation(const uint8_t* data, size_t size, ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg: return JpegOrientation(data, size);
    case ImageFormat::kPng: return PngOrientation(data, size);
    case ImageFormat::kWebp: return WebpOrientation(data, size);
    case ImageFormat::kTiff: return OrientationFromTiffBlock(data, size);
    default: return 1;
  }
}

void ApplyExifOrientation(int orientation, Image* image) {
  if (orientation < 2 || orientation > 8) return;
  const Image in = std::move(*image);
  const int w = in.width, h = in.height;
  using P = std::pair<int, int>;
  switch (orientation) {
    case 2: Remap(in, w, h, [&](int x, int y) { return P(w - 1 - x, y); }, image); break;          // FLIP_LEFT_RIGHT
    case 3: Remap(in, w, h, [&](int x, int y) { return P(w - 1 - x, h - 1 - y); }, image); break;  // ROTATE_180
    case 4: Remap(in, w, h, [&](int x, int y) { return P(x, h - 1 - y); }, image); break;          // FLIP_TOP_BOTTOM
    case 5: Remap(in, h, w, [&](int x, int y) { return P(y, x); }, image); break;                  // TRANSPOSE
    case 6: Remap(in, h, w, [&](int x, int y) { return P(y, h - 1 - x); }, image); break;          // ROTATE_270
    case 7: Remap(in, h, w, [&](int x, int y) { return P(w - 1 - y, h - 1 - x); }, image); break;  // TRANSVERSE
    case 8: Remap(in, h, w, [&](int x, int y) { return P(w - 1 - y, x); }, image); break;          // ROTATE_90
  }
}

}  // namespace pg
