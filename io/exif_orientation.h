// EXIF orientation (tag 274) of an encoded image, and turning a decoded image upright the way
// PIL's ImageOps.exif_transpose does (HF's load_image applies it before convert("RGB")).
//
// Where the tag is read from, as PIL's getexif() finds it:
//   JPEG  the first APP1 segment starting "Exif\0\0" (before the scan);
//   PNG   the eXIf chunk (anywhere before IEND);
//   WebP  the RIFF "EXIF" chunk (with or without the "Exif\0\0" prefix);
//   TIFF  the file's own first IFD (PIL applies this one even without exif_transpose).
// HEIC/AVIF and GIF/BMP have none here (libheif applies irot/imir itself).
//
// Orientation values: 1 upright, 2 mirrored left-right, 3 rotated 180, 4 mirrored top-bottom,
// 5 transposed, 6 rotated 90 clockwise (PIL ROTATE_270), 7 transversed, 8 rotated 90
// anticlockwise (PIL ROTATE_90). Anything else, or a missing or damaged EXIF block, reads as
// 1 (no change), as PIL does: a bad EXIF block never makes an image unreadable.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/image_decode.h"

namespace pg {

// 1..8, or 1 when absent or unreadable.
int ExifOrientation(const uint8_t* data, size_t size, ImageFormat format);

// The orientation of a TIFF-structured block ("II*\0" / "MM\0*", optionally after
// "Exif\0\0"): IFD0's tag 274 as SHORT or LONG with count 1. 1 when absent or out of bounds.
int OrientationFromTiffBlock(const uint8_t* data, size_t size);

// image: [h, w, 3] -> upright; [w, h, 3] for orientations 5..8. 1 and unknown values: unchanged.
void ApplyExifOrientation(int orientation, Image* image);

}  // namespace pg
