// Alpha onto opaque white, bit-exact with HF's convert_to_rgb
// (Image.alpha_composite(white, im.convert("RGBA")).convert("RGB"), Pillow AlphaComposite.c
// fixed point with PRECISION_BITS = 7), and the RGBA row -> RGB used by the decoders.
#pragma once

#include <cstdint>

namespace pg {

// c: a colour channel, a: its (unpremultiplied) alpha.
inline uint8_t OntoWhite(int c, int a) {
  const uint32_t coef1 = uint32_t(a) << 7, coef2 = (255u << 7) - coef1;
  const uint32_t t = uint32_t(c) * coef1 + 255u * coef2 + (0x80u << 7);
  return static_cast<uint8_t>((((t >> 8) + t) >> 8) >> 7);  // SHIFTFORDIV255(t) >> 7
}

// rgba: [width, 4] unpremultiplied -> rgb: [width, 3]; alpha dropped (PIL convert("RGB")) or,
// with onto_white, composited onto white.
inline void RgbaRowToRgb(const uint8_t* rgba, int width, bool onto_white, uint8_t* rgb) {
  for (int x = 0; x < width; ++x, rgba += 4, rgb += 3) {
    for (int c = 0; c < 3; ++c) rgb[c] = onto_white ? OntoWhite(rgba[c], rgba[3]) : rgba[c];
  }
}

}  // namespace pg
