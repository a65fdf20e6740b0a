// BMP decoding, matching PIL's BmpImagePlugin + convert("RGB"). Our own reader: Debian has no
// maintained BMP library (libstb's stb_image guesses about alpha in 32-bit BI_RGB files and
// differs from PIL there), and the format is small enough to read with every offset checked.
//
// What is read, as PIL reads it:
//   headers  OS/2 core (12 bytes; 16-bit width/height, 3-byte palette entries) and Windows
//            INFO / V2..V5 (40..124 bytes; 4-byte palette entries); a negative height means
//            top-down rows, otherwise rows are stored bottom-up; rows are padded to 4 bytes;
//            the pixels start at the file header's offset.
//   1/2/4/8  palette indices, MSB first; an index past the palette gets PIL's default (i, i, i).
//   16       BI_RGB 5-5-5, BI_BITFIELDS 5-6-5 or 5-5-5; PIL scales a 5/6-bit value v to
//            v * 255 / 31 (or 63), truncated.
//   24       B, G, R.
//   32       BI_RGB: B, G, R, ignored byte (no alpha, as PIL). BI_BITFIELDS with byte-aligned
//            masks PIL knows: with an alpha mask the alpha is dropped, or composited onto white
//            with DecodeOptions::alpha_onto_white.
// Not read (errors naming the file): RLE4/RLE8/JPEG/PNG compression, other bitfield layouts.
#include <cstring>
#include <vector>

#include "io/alpha_composite.h"
#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

uint32_t U16(const uint8_t* p) { return p[0] | p[1] << 8; }
uint32_t U32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

struct BmpLayout {
  int64_t width = 0, height = 0;
  bool top_down = false;
  int bits = 0;
  uint32_t compression = 0;
  uint32_t masks[4] = {0, 0, 0, 0};  // r, g, b, a (BI_BITFIELDS)
  size_t pixel_offset = 0;
  uint8_t palette[256][3];
};

// The byte (0..3) a mask selects in a 32-bit pixel, or -1 when it is not one whole byte.
int MaskByte(uint32_t mask) {
  for (int b = 0; b < 4; ++b)
    if (mask == 0xFFu << (8 * b)) return b;
  return -1;
}

BmpLayout ReadHeader(const uint8_t* d, size_t n, const std::string& name) {
  BmpLayout L;
  PG_CHECK(n >= 26, "image '" << name << "': truncated BMP header (" << n << " bytes)");
  const uint32_t header = U32(d + 14);
  PG_CHECK(n >= 14 + size_t(header), "image '" << name << "': truncated BMP header (" << n << " bytes)");
  int64_t h;
  size_t entry = 4;
  if (header == 12) {
    L.width = U16(d + 18), h = U16(d + 20), L.bits = int(U16(d + 24)), entry = 3;
  } else {
    PG_CHECK(header >= 40, "image '" << name << "': unsupported BMP header size " << header);
    L.width = int32_t(U32(d + 18)), h = int32_t(U32(d + 22)), L.bits = int(U16(d + 28));
    L.compression = U32(d + 30);
  }
  L.top_down = h < 0;
  L.height = h < 0 ? -h : h;
  PG_CHECK(L.width > 0 && L.height > 0, "image '" << name << "': BMP header says " << L.width << "x" << h);
  PG_CHECK(L.bits == 1 || L.bits == 2 || L.bits == 4 || L.bits == 8 || L.bits == 16 || L.bits == 24 || L.bits == 32,
           "image '" << name << "': unsupported BMP bit depth " << L.bits);
  const char* kNames[] = {"BI_RGB", "RLE8", "RLE4", "BI_BITFIELDS", "JPEG", "PNG", "BI_ALPHABITFIELDS"};
  PG_CHECK(L.compression == 0 || L.compression == 3,
           "image '" << name << "': unsupported BMP compression "
                     << (L.compression < 7 ? kNames[L.compression] : std::to_string(L.compression).c_str()));
  size_t after_header = 14 + header;
  if (L.compression == 3) {
    // INFO (40): three masks follow the header; V2+ headers hold them (V3+ also alpha).
    const size_t at = header == 40 ? after_header : 54;
    const int count = header == 40 ? 3 : header >= 56 ? 4 : 3;
    PG_CHECK(n >= at + 4 * size_t(count), "image '" << name << "': truncated BMP bit masks");
    for (int i = 0; i < count; ++i) L.masks[i] = U32(d + at + 4 * i);
    if (header == 40) after_header += 12;
  }
  if (L.bits <= 8) {
    const uint32_t used = header == 12 ? 0 : U32(d + 46);
    const uint32_t colours = used != 0 ? used : 1u << L.bits;
    PG_CHECK(colours <= 65536, "image '" << name << "': BMP palette of " << colours << " colours");
    const size_t take = std::min<size_t>(colours, 256);
    PG_CHECK(n >= after_header + take * entry, "image '" << name << "': truncated BMP palette");
    for (int i = 0; i < 256; ++i) L.palette[i][0] = L.palette[i][1] = L.palette[i][2] = uint8_t(i);
    for (size_t i = 0; i < take; ++i) {
      const uint8_t* e = d + after_header + i * entry;
      L.palette[i][0] = e[2], L.palette[i][1] = e[1], L.palette[i][2] = e[0];
    }
    after_header += colours * entry;
  }
  const uint32_t offset = U32(d + 10);
  L.pixel_offset = offset != 0 ? offset : after_header;
  return L;
}

// 16-bit pixel v -> RGB with PIL's "BGR;15" / "BGR;16" unpackers.
void Unpack16(uint32_t v, bool six_bit_green, uint8_t* rgb) {
  rgb[2] = uint8_t((v & 31) * 255 / 31);
  if (six_bit_green) {
    rgb[1] = uint8_t(((v >> 5) & 63) * 255 / 63), rgb[0] = uint8_t(((v >> 11) & 31) * 255 / 31);
  } else {
    rgb[1] = uint8_t(((v >> 5) & 31) * 255 / 31), rgb[0] = uint8_t(((v >> 10) & 31) * 255 / 31);
  }
}

}  // namespace

Image DecodeBmp(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opts) {
  const BmpLayout L = ReadHeader(data, size, name);
  PG_CHECK(L.width * L.height <= opts.max_pixels,
           "image '" << name << "': BMP header says " << L.width << "x" << L.height << " = " << L.width * L.height
                     << " pixels, more than the limit of " << opts.max_pixels << " (--max-image-pixels)");
  // Byte positions of R, G, B, A in a 32-bit pixel; A = -1 when there is none.
  int pos[4] = {2, 1, 0, -1};
  bool six_bit_green = false;
  if (L.compression == 3) {
    if (L.bits == 32) {
      const bool all_zero = !L.masks[0] && !L.masks[1] && !L.masks[2] && !L.masks[3];
      for (int c = 0; c < 4; ++c) pos[c] = all_zero ? (c == 3 ? 3 : 2 - c) : MaskByte(L.masks[c]);
      PG_CHECK(pos[0] >= 0 && pos[1] >= 0 && pos[2] >= 0 && (pos[3] >= 0 || L.masks[3] == 0),
               "image '" << name << "': unsupported BMP bitfields layout");
    } else if (L.bits == 16 && L.masks[0] == 0xF800 && L.masks[1] == 0x7E0 && L.masks[2] == 0x1F) {
      six_bit_green = true;
    } else {
      PG_CHECK((L.bits == 16 && L.masks[0] == 0x7C00 && L.masks[1] == 0x3E0 && L.masks[2] == 0x1F) ||
                   (L.bits == 24 && L.masks[0] == 0xFF0000 && L.masks[1] == 0xFF00 && L.masks[2] == 0xFF),
               "image '" << name << "': unsupported BMP bitfields layout for " << L.bits << "-bit pixels");
    }
  }
  const size_t stride = ((size_t(L.width) * L.bits + 31) / 32) * 4;
  PG_CHECK(L.pixel_offset <= size && (size - L.pixel_offset) / stride >= size_t(L.height),
           "image '" << name << "': truncated BMP pixel data (" << L.height << " rows of " << stride
                     << " bytes from offset " << L.pixel_offset << ", file has " << size << " bytes)");
  Image image;
  image.width = int(L.width), image.height = int(L.height);
  image.rgb.resize(size_t(L.width) * L.height * 3);
  const bool onto_white = opts.alpha_onto_white && pos[3] >= 0;
  for (int64_t y = 0; y < L.height; ++y) {
    const uint8_t* row = data + L.pixel_offset + size_t(L.top_down ? y : L.height - 1 - y) * stride;
    uint8_t* out = image.rgb.data() + size_t(y) * L.width * 3;
    for (int64_t x = 0; x < L.width; ++x, out += 3) {
      if (L.bits <= 8) {
        const size_t bit = size_t(x) * L.bits;
        const int index = (row[bit / 8] >> (8 - L.bits - bit % 8)) & ((1 << L.bits) - 1);
        std::memcpy(out, L.palette[index], 3);
      } else if (L.bits == 16) {
        Unpack16(U16(row + 2 * x), six_bit_green, out);
      } else {
        const uint8_t* p = row + x * (L.bits / 8);
        for (int c = 0; c < 3; ++c) out[c] = onto_white ? OntoWhite(p[pos[c]], p[pos[3]]) : p[pos[c]];
      }
    }
  }
  return image;
}

}  // namespace pg
