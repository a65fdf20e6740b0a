// The EXIF orientation reader on hand-made TIFF blocks (byte orders, value types, damage) and the
// eight transposes on a tiny image; PIL agreement is tested on real files in image_formats_test.
#include "io/exif_orientation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pg {
namespace {

// A TIFF block with one IFD0 entry (tag, type, count, value), little- or big-endian.
std::vector<uint8_t> Block(bool le, uint16_t tag, uint16_t type, uint32_t count, uint32_t value, bool exif_prefix = false) {
  std::vector<uint8_t> b;
  if (exif_prefix) b = {'E', 'x', 'i', 'f', 0, 0};
  auto put16 = [&](uint32_t v) { le ? b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8)}) : b.insert(b.end(), {uint8_t(v >> 8), uint8_t(v)}); };
  auto put32 = [&](uint32_t v) { le ? (put16(v & 0xFFFF), put16(v >> 16)) : (put16(v >> 16), put16(v & 0xFFFF)); };
  const std::string head = le ? std::string("II*\0", 4) : std::string("MM\0*", 4);
  b.insert(b.end(), head.begin(), head.end());
  put32(8);
  put16(1);
  put16(tag), put16(type), put32(count);
  if (type == 3) {
    put16(value), put16(0);
  } else {
    put32(value);
  }
  put32(0);
  return b;
}

int Orientation(const std::vector<uint8_t>& b) { return OrientationFromTiffBlock(b.data(), b.size()); }

TEST(ExifOrientation, ReadsTag274InEitherByteOrderAsShortOrLong) {
  for (bool le : {true, false}) {
    for (uint32_t v = 1; v <= 8; ++v) {
      EXPECT_EQ(Orientation(Block(le, 274, 3, 1, v)), int(v)) << le;
      EXPECT_EQ(Orientation(Block(le, 274, 4, 1, v)), int(v)) << le;
    }
    EXPECT_EQ(Orientation(Block(le, 274, 3, 1, 6, /*exif_prefix=*/true)), 6);
  }
}

TEST(ExifOrientation, AnythingOddReadsAsUpright) {
  EXPECT_EQ(Orientation(Block(true, 274, 3, 1, 0)), 1);   // out of range
  EXPECT_EQ(Orientation(Block(true, 274, 3, 1, 9)), 1);
  EXPECT_EQ(Orientation(Block(true, 274, 3, 2, 6)), 1);   // two values
  EXPECT_EQ(Orientation(Block(true, 274, 2, 1, 6)), 1);   // ASCII
  EXPECT_EQ(Orientation(Block(true, 275, 3, 1, 6)), 1);   // another tag
  std::vector<uint8_t> b = Block(true, 274, 3, 1, 6);
  for (size_t cut = 0; cut < b.size() - 4; ++cut)           // the entry cut off: no read past the end
    EXPECT_EQ(OrientationFromTiffBlock(b.data(), cut), 1) << cut;
  b[4] = 0xF0;                                               // IFD offset past the end
  EXPECT_EQ(Orientation(b), 1);
  EXPECT_EQ(Orientation({'I', 'I', '+', 0, 8, 0, 0, 0}), 1);  // not TIFF
}

TEST(ExifOrientation, ContainersWithoutATagAreUpright) {
  const std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04, 'E', 'x', 0xFF, 0xDA};  // short APP1
  EXPECT_EQ(ExifOrientation(jpeg.data(), jpeg.size(), ImageFormat::kJpeg), 1);
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a'};
  EXPECT_EQ(ExifOrientation(gif.data(), gif.size(), ImageFormat::kGif), 1);
}

// in: 3 wide, 2 tall, pixel value = 10 * row + column in every channel.
//   0  1  2
//  10 11 12
TEST(ExifOrientation, EightTransposesAsPil) {
  const std::vector<std::vector<int>> want = {
      {0, 1, 2, 10, 11, 12},   // 1
      {2, 1, 0, 12, 11, 10},   // 2 FLIP_LEFT_RIGHT
      {12, 11, 10, 2, 1, 0},   // 3 ROTATE_180
      {10, 11, 12, 0, 1, 2},   // 4 FLIP_TOP_BOTTOM
      {0, 10, 1, 11, 2, 12},   // 5 TRANSPOSE (2 wide, 3 tall)
      {10, 0, 11, 1, 12, 2},   // 6 ROTATE_270 (clockwise)
      {12, 2, 11, 1, 10, 0},   // 7 TRANSVERSE
      {2, 12, 1, 11, 0, 10}};  // 8 ROTATE_90 (anticlockwise)
  for (int o = 1; o <= 8; ++o) {
    Image img;
    img.width = 3, img.height = 2;
    for (int v : {0, 1, 2, 10, 11, 12}) img.rgb.insert(img.rgb.end(), {uint8_t(v), uint8_t(v), uint8_t(v)});
    ApplyExifOrientation(o, &img);
    EXPECT_EQ(img.width, o >= 5 ? 2 : 3) << o;
    EXPECT_EQ(img.height, o >= 5 ? 3 : 2) << o;
    std::vector<int> got;
    for (size_t i = 0; i < img.rgb.size(); i += 3) got.push_back(img.rgb[i]);
    EXPECT_EQ(got, want[o - 1]) << "orientation " << o;
  }
}

}  // namespace
}  // namespace pg
