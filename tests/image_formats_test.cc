// WebP, GIF, BMP, TIFF, HEIC and AVIF decoding and EXIF orientation against PIL
// (fixtures from tests/golden/make_format_fixtures.py in tests/fixtures/image_formats/),
// plus each format's error paths: truncated files and the header pixel limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/image_decode.h"
#include "runtime/check.h"

namespace pg {
namespace {

const std::string kDir = std::string(PG_SOURCE_DIR) + "/tests/fixtures/image_formats/";

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

nlohmann::json Cases() {
  std::ifstream f(kDir + "index.json");
  EXPECT_TRUE(f.good()) << "missing " << kDir << "index.json";
  return nlohmann::json::parse(f)["cases"];
}

// Largest |got - want| over the pixels; reports where when `name` is given.
int MaxDiff(const Image& got, const std::vector<uint8_t>& want, const std::string& name) {
  EXPECT_EQ(got.rgb.size(), want.size()) << name;
  if (got.rgb.size() != want.size()) return 255;
  int worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const int d = std::abs(int(got.rgb[i]) - int(want[i]));
    if (d > worst) worst = d, at = i;
  }
  if (worst > 0)
    std::printf("  %s: max diff %d at [%zu, %zu, %zu] (got %d, PIL %d)\n", name.c_str(), worst,
                at / 3 / got.width, at / 3 % got.width, at % 3, got.rgb[at], want[at]);
  return worst;
}

// Lossy decoders may round differently from PIL's libraries. Bounds measured with Debian 12's
// libwebp 1.2.4 / libheif 1.15.1 (libde265 1.0.11, dav1d 1.0.0) against Pillow 13.0.0 (libwebp
// 1.6.0, libavif) and pillow-heif 1.8.1 (libheif 1.23.6): see the printed figures.
// AVIF 4:2:0 differs most: libheif 1.15 upsamples chroma by pixel replication, libavif
// (Pillow) bilinearly; the noise fixture is the worst case, a smooth gradient stays small.
int Tolerance(const std::string& file, bool lossy) {
  if (!lossy) return 0;
  const std::vector<std::pair<std::string, int>> bound = {  // first matching prefix
      {"webp_", 0}, {"heic_", 2}, {"avif444_", 2}, {"avif_smooth_", 8}, {"avif_", 40}};
  for (const auto& kv : bound)
    if (file.rfind(kv.first, 0) == 0) return kv.second;
  return 0;
}

TEST(ImageFormats, MatchPil) {
  const nlohmann::json cases = Cases();
  ASSERT_GE(cases.size(), 40u);
  std::map<std::string, int> worst_by_format;
  std::map<std::string, int> count_by_format;
  for (const auto& c : cases) {
    const std::string file = c["file"], format = c["format"];
    SCOPED_TRACE(file);
    const Image img = DecodeImageFile(kDir + file);
    ASSERT_EQ(img.height, int(c["height"]));
    ASSERT_EQ(img.width, int(c["width"]));
    const int d = MaxDiff(img, ReadBytes(kDir + std::string(c["rgb"])), file);
    EXPECT_LE(d, Tolerance(file, c["lossy"])) << format;
    worst_by_format[format + (c["lossy"] ? " (lossy)" : "")] =
        std::max(worst_by_format[format + (c["lossy"] ? " (lossy)" : "")], d);
    ++count_by_format[format];
  }
  for (const auto& kv : worst_by_format) std::printf("max |decoded - PIL| %s: %d\n", kv.first.c_str(), kv.second);
  for (const char* f : {"WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF"}) EXPECT_GE(count_by_format[f], 2) << f;
}

// HF's convert_to_rgb composites alpha onto white (DecodeOptions::alpha_onto_white).
TEST(ImageFormats, AlphaOntoWhiteMatchesHf) {
  DecodeOptions hf;
  hf.alpha_onto_white = true;
  int n = 0;
  for (const auto& c : Cases()) {
    if (!c.contains("white")) continue;
    const std::string file = c["file"];
    SCOPED_TRACE(file);
    const Image img = DecodeImageFile(kDir + file, hf);
    EXPECT_LE(MaxDiff(img, ReadBytes(kDir + std::string(c["white"])), file + " onto white"),
              Tolerance(file, c["lossy"]));
    ++n;
  }
  EXPECT_GE(n, 6) << "fixtures with alpha: WebP x2, GIF transparency, BMP bitfields, TIFF, HEIC, AVIF";
}

// ImageOps.exif_transpose, all 8 orientations (JPEG APP1, PNG eXIf), WebP EXIF, TIFF tag.
TEST(ImageFormats, ExifTransposeMatchesPil) {
  DecodeOptions upright;
  upright.exif_transpose = true;
  int n = 0;
  for (const auto& c : Cases()) {
    if (!c.contains("exif")) continue;
    const std::string file = c["file"];
    SCOPED_TRACE(file);
    const Image img = DecodeImageFile(kDir + file, upright);
    ASSERT_EQ(img.height, int(c["exif_height"]));
    ASSERT_EQ(img.width, int(c["exif_width"]));
    EXPECT_EQ(MaxDiff(img, ReadBytes(kDir + std::string(c["exif"])), file + " exif"), 0);
    const Image raw = DecodeImageFile(kDir + file);  // default: not applied, like Image.open
    EXPECT_EQ(MaxDiff(raw, ReadBytes(kDir + std::string(c["rgb"])), file), 0);
    // PIL's TIFF plugin turns the image on load, so for TIFF the option changes nothing.
    const bool tiff = c["format"] == "TIFF";
    if (file.rfind("orient1_", 0) != 0 && !tiff) EXPECT_NE(raw.rgb, img.rgb) << "orientation had no effect";
    if (tiff) EXPECT_EQ(raw.rgb, img.rgb);
    ++n;
  }
  EXPECT_GE(n, 19);
}

// Every prefix of every fixture fails with an error naming the file or decodes; none crashes.
TEST(ImageFormats, TruncatedFilesFailNamingTheFile) {
  for (const auto& c : Cases()) {
    const std::string file = c["file"];
    const std::vector<uint8_t> bytes = ReadBytes(kDir + file);
    for (size_t cut : {size_t{20}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 7}) {
      SCOPED_TRACE(file + " cut at " + std::to_string(cut));
      try {
        DecodeImageBuffer(bytes.data(), cut, "cut-" + file);
        // A few formats hold their pixels before trailing metadata and legitimately decode.
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("image 'cut-" + file + "'"), std::string::npos) << e.what();
      }
    }
  }
}

// A truncated file must not decode silently for formats whose pixel data ends the file.
TEST(ImageFormats, TruncatedPixelDataIsAnError) {
  for (const char* file : {"bmp24_37x23.bmp", "gif_37x23.gif", "tiff_raw_37x23.tif", "webp_lossless_37x23.webp",
                           "heic_37x23.heic", "avif_37x23.avif"}) {
    SCOPED_TRACE(file);
    const std::vector<uint8_t> bytes = ReadBytes(kDir + file);
    const std::string name = std::string("half-") + file;
    try {
      DecodeImageBuffer(bytes.data(), bytes.size() / 2, name);
      ADD_FAILURE() << "half of " << file << " decoded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("image '" + name + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(ImageFormats, PixelLimitCheckedFromTheHeader) {
  DecodeOptions small;
  small.max_pixels = 100;  // every fixture is larger
  for (const char* file : {"webp_lossy_37x23.webp", "webp_anim_37x23.webp", "gif_37x23.gif", "bmp24_37x23.bmp",
                           "bmp24_os2_13x11.bmp", "tiff_lzw_37x23.tif", "heic_37x23.heic", "avif_37x23.avif"}) {
    SCOPED_TRACE(file);
    try {
      DecodeImageFile(kDir + file, small);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find("more than the limit of 100"), std::string::npos) << msg;
    }
  }
}

TEST(ImageFormats, FormatsDetectedByContentNotName) {
  const std::map<std::string, ImageFormat> want = {
      {"webp_lossy_37x23.webp", ImageFormat::kWebp}, {"gif_37x23.gif", ImageFormat::kGif},
      {"bmp4_13x11.bmp", ImageFormat::kBmp},         {"tiff_raw_37x23.tif", ImageFormat::kTiff},
      {"heic_37x23.heic", ImageFormat::kHeif},       {"avif_37x23.avif", ImageFormat::kHeif}};
  for (const auto& kv : want) {
    const std::vector<uint8_t> b = ReadBytes(kDir + kv.first);
    EXPECT_EQ(DetectImageFormat(b.data(), b.size()), kv.second) << kv.first;
    EXPECT_EQ(DecodeImageBuffer(b.data(), b.size(), "no-extension").rgb, DecodeImageFile(kDir + kv.first).rgb);
  }
}

}  // namespace
}  // namespace pg
