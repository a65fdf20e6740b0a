// Image decoding and preprocessing against PIL / TensorFlow references
// (fixtures from tests/golden/make_image_fixtures.py), plus the error paths.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/image_decode.h"
#include "io/image_resize.h"
#include "runtime/check.h"

namespace pg {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(PG_SOURCE_DIR) + "/tests/fixtures/images/";

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

template <typename T>
std::vector<T> ReadRaw(const std::string& name, size_t count) {
  std::vector<uint8_t> bytes = ReadBytes(kFixtures + name);
  EXPECT_EQ(bytes.size(), count * sizeof(T)) << name;
  std::vector<T> out(count);
  std::memcpy(out.data(), bytes.data(), std::min(bytes.size(), count * sizeof(T)));
  return out;  // fixtures are little-endian, as is every machine this builds on
}

nlohmann::json Index() {
  std::ifstream f(kFixtures + "index.json");
  EXPECT_TRUE(f.good()) << "missing " << kFixtures << "index.json";
  return nlohmann::json::parse(f);
}

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const fs::path dir = fs::path(PG_BINARY_DIR) / "image_test_tmp";
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return path;
}

// Runs `fn`, expects a pg::Error whose message contains every string in `needles`.
template <typename Fn>
void ExpectError(Fn fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning '" << needles.front() << "'";
  } catch (const Error& e) {
    for (const std::string& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << "error '" << e.what() << "' does not mention '" << n << "'";
  }
}

bool IsJpeg(const std::string& file) { return file.size() > 4 && file.substr(file.size() - 4) == ".jpg"; }

// ---- Decoding --------------------------------------------------------------------------------

TEST(ImageDecode, MatchesPilPixels) {
  const nlohmann::json index = Index();
  ASSERT_GE(index["decode"].size(), 20u);
  int max_jpeg_diff = 0;
  for (const auto& e : index["decode"]) {
    const std::string file = e["file"];
    const int h = e["height"], w = e["width"];
    SCOPED_TRACE(file);
    const Image img = DecodeImageFile(kFixtures + file);
    ASSERT_EQ(img.height, h);
    ASSERT_EQ(img.width, w);
    const std::vector<uint8_t> want = ReadRaw<uint8_t>(e["rgb"], size_t(h) * w * 3);
    ASSERT_EQ(img.rgb.size(), want.size());
    int max_diff = 0;
    size_t worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const int d = std::abs(int(img.rgb[i]) - int(want[i]));
      if (d > max_diff) max_diff = d, worst = i;
    }
    // PNG is lossless, and libjpeg-turbo's ISLOW IDCT + fancy upsampling are the same
    // integer arithmetic in the system library and in Pillow's bundled one: both exact.
    EXPECT_EQ(max_diff, 0) << "worst at [" << worst / 3 / w << ", " << worst / 3 % w << ", "
                           << worst % 3 << "]: got " << int(img.rgb[worst]) << ", PIL "
                           << int(want[worst]);
    if (IsJpeg(file)) max_jpeg_diff = std::max(max_jpeg_diff, max_diff);
  }
  std::printf("max |decoded - PIL| over the JPEG fixtures: %d\n", max_jpeg_diff);
}

// HF's convert_to_rgb composites alpha onto white; fixtures made with Pillow 13
// (tests/golden/make_hf_preprocess_fixtures.py). Without the option alpha is dropped (PIL RGB).
TEST(ImageDecode, AlphaOntoWhiteMatchesHf) {
  DecodeOptions hf;
  hf.alpha_onto_white = true;
  for (const char* name : {"rgba_20x17.png", "la_11x9.png", "palette_trns_37x23.png"}) {
    SCOPED_TRACE(name);
    const Image got = DecodeImageFile(kFixtures + name, hf);
    const std::vector<uint8_t> want = ReadRaw<uint8_t>(std::string(name) + ".white.rgb.u8", got.rgb.size());
    EXPECT_EQ(got.rgb, want);
    const Image dropped = DecodeImageFile(kFixtures + name);
    EXPECT_EQ(dropped.rgb, ReadRaw<uint8_t>(std::string(name) + ".rgb.u8", dropped.rgb.size()));
    EXPECT_NE(got.rgb, dropped.rgb) << "the fixture has no partly transparent pixel";
  }
  const Image opaque = DecodeImageFile(kFixtures + "rgb_37x23.png", hf);  // no alpha: unchanged
  EXPECT_EQ(opaque.rgb, DecodeImageFile(kFixtures + "rgb_37x23.png").rgb);
}

TEST(ImageDecode, FormatNamesFromContent) {
  auto name = [](const std::string& bytes) {
    const char* n = ImageFormatName(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return std::string(n ? n : "");
  };
  EXPECT_EQ(name(std::string("\xFF\xD8\xFF\xE0", 4)), "JPEG");
  EXPECT_EQ(name(std::string("\x89PNG\r\n\x1a\n", 8)), "PNG");
  EXPECT_EQ(name(std::string("RIFF\0\0\0\0WEBPVP8 ", 16)), "WebP");
  EXPECT_EQ(name("GIF89a.."), "GIF");
  EXPECT_EQ(name(std::string("BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", 18)), "BMP");
  EXPECT_EQ(name(std::string("II*\0", 4)), "TIFF");
  EXPECT_EQ(name(std::string("\0\0\0\x18" "ftypheic", 12)), "HEIC");
  EXPECT_EQ(name(std::string("\0\0\0\x18" "ftypavif", 12)), "AVIF");
  EXPECT_EQ(name("BMW list of photos\n"), "");
  EXPECT_EQ(name("photos/a.jpg\n"), "");
  const std::string webp("RIFF\0\0\0\0WEBPVP8 ", 16);
  ExpectError([&] { DecodeImageBuffer(reinterpret_cast<const uint8_t*>(webp.data()), webp.size(), "x.webp"); },
              {"image 'x.webp'", "WebP header"});
}

TEST(ImageDecode, BufferAndFileAgreeAndExtensionIsIgnored) {
  const std::vector<uint8_t> png = ReadBytes(kFixtures + "rgb_37x23.png");
  const Image a = DecodeImageBuffer(png.data(), png.size(), "<mem>");
  const Image b = DecodeImageFile(WriteTemp("really_a_png.jpg", png));
  EXPECT_EQ(a.rgb, b.rgb);
  EXPECT_EQ(DetectImageFormat(png.data(), png.size()), ImageFormat::kPng);
  const std::vector<uint8_t> jpg = ReadBytes(kFixtures + "rgb_37x23_q90.jpg");
  EXPECT_EQ(DetectImageFormat(jpg.data(), jpg.size()), ImageFormat::kJpeg);
  EXPECT_EQ(DecodeImageFile(WriteTemp("really_a_jpeg.png", jpg)).width, 37);
}

// ---- Resizing --------------------------------------------------------------------------------

struct ErrStats {
  double max_abs = 0;
  size_t worst = 0;
};

ErrStats Compare(const std::vector<float>& got, const std::vector<float>& want) {
  ErrStats s;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::abs(double(got[i]) - double(want[i]));
    if (d > s.max_abs) s.max_abs = d, s.worst = i;
  }
  return s;
}

TEST(ImageResize, MatchesReferences) {
  const nlohmann::json index = Index();
  double worst_bilinear = 0, worst_bicubic = 0;
  int worst_bicubic_u8 = 0;
  for (const auto& e : index["resize"]) {
    const std::string src = e["source"], filter = e["filter"];
    const int size = e["size"];
    SCOPED_TRACE(src + " -> " + std::to_string(size) + " " + filter);
    const Image img = DecodeImageFile(kFixtures + src);
    const size_t n = size_t(size) * size * 3;
    const std::vector<float> got = PreprocessImage(img, size, ParseResizeFilter(filter));
    const std::vector<float> want = ReadRaw<float>(e["expected"], n);
    ASSERT_EQ(got.size(), n);
    const ErrStats s = Compare(got, want);
    // Both resizers repeat the reference float32 / fixed-point operations in the same order,
    // so the expected error is 0. The bound leaves room for 2 ulps at 1.0 (a compiler that
    // contracts a*b+c into an FMA): 2 * 2^-23.
    const double tol = 2.0 * std::ldexp(1.0, -23);
    EXPECT_LE(s.max_abs, tol) << "worst element " << s.worst << ": got " << got[s.worst]
                              << ", reference " << want[s.worst];
    if (filter == "bilinear") {
      worst_bilinear = std::max(worst_bilinear, s.max_abs);
    } else {
      worst_bicubic = std::max(worst_bicubic, s.max_abs);
      const Image r = ResizeBicubicPil(img, size, size);
      const std::vector<uint8_t> want_u8 = ReadRaw<uint8_t>(e["expected_u8"], n);
      int max_u8 = 0;
      for (size_t i = 0; i < n; ++i)
        max_u8 = std::max(max_u8, std::abs(int(r.rgb[i]) - int(want_u8[i])));
      EXPECT_EQ(max_u8, 0) << "Pillow's fixed-point resize must be reproduced bit-exactly";
      worst_bicubic_u8 = std::max(worst_bicubic_u8, max_u8);
    }
  }
  std::printf("max |ours - TF| bilinear: %.3g; max |ours - HF/PIL| bicubic: %.3g "
              "(uint8 max diff %d)\n",
              worst_bilinear, worst_bicubic, worst_bicubic_u8);
}

Image RandomImage(int h, int w, uint32_t seed) {
  std::mt19937 rng(seed);
  Image img{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (uint8_t& v : img.rgb) v = static_cast<uint8_t>(rng() & 255);
  return img;
}

// Pillow >= 13 (python-pillow/Pillow#9549) runs the vertical pass first when the height shrinks
// by more than twice as many pixels as the width. Fixtures: tests/golden/make_hf_preprocess_fixtures.py.
TEST(ImageResize, Pillow13PassOrder) {
  EXPECT_TRUE(PilVerticalPassFirst(40, 16, 10, 12));    // 30 > 2 x 4
  EXPECT_TRUE(PilVerticalPassFirst(75, 100, 40, 83));   // 35 > 2 x 17
  EXPECT_FALSE(PilVerticalPassFirst(75, 100, 40, 82));  // 35 <= 2 x 18
  EXPECT_FALSE(PilVerticalPassFirst(40, 16, 60, 12));   // height grows
  struct Case { const char* src; int h, w; };
  for (const Case& c : {Case{"rgb_16x40.png", 10, 12}, Case{"rgb_100x75.png", 40, 83}, Case{"rgb_100x75.png", 40, 82}}) {
    const std::string name = std::string(c.src) + "." + std::to_string(c.h) + "x" + std::to_string(c.w) + ".bicubic.pil13.u8";
    SCOPED_TRACE(name);
    const Image img = DecodeImageFile(kFixtures + c.src);
    const Image r = ResizeBicubicPil(img, c.h, c.w);
    const std::vector<uint8_t> want = ReadRaw<uint8_t>(name, size_t(c.h) * c.w * 3);
    int max_u8 = 0;
    size_t worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const int d = std::abs(int(r.rgb[i]) - int(want[i]));
      if (d > max_u8) max_u8 = d, worst = i;
    }
    EXPECT_EQ(max_u8, 0) << "worst element " << worst << ": got " << int(r.rgb[worst]) << ", Pillow 13 " << int(want[worst]);
  }
}

TEST(ImageResize, SameSizeIsOnlyValueMapping) {
  const Image img = RandomImage(16, 16, 7);
  const std::vector<float> bl = PreprocessImage(img, 16, ResizeFilter::kBilinearAntialias);
  const std::vector<float> bc = PreprocessImage(img, 16, ResizeFilter::kBicubicPil);
  // The filtering paths are identities at scale 1 too.
  const std::vector<float> tf_same = ResizeBilinearAntialias(img, 16, 16);
  EXPECT_EQ(ResizeBicubicPil(img, 16, 16).rgb, img.rgb);
  for (size_t i = 0; i < img.rgb.size(); ++i) {
    const float x = img.rgb[i];
    ASSERT_EQ(bl[i], x / 127.5f - 1.0f) << i;
    const float r = static_cast<float>(double(img.rgb[i]) * (1.0 / 255.0));
    ASSERT_EQ(bc[i], (r - 0.5f) / 0.5f) << i;
    ASSERT_EQ(tf_same[i], x) << i;
  }
  EXPECT_EQ(bl.front(), img.rgb.front() / 127.5f - 1.0f);
}

TEST(ImageResize, ConstantImageStaysConstantAndInRange) {
  Image img{31, 9, std::vector<uint8_t>(31 * 9 * 3, 200)};
  for (int size : {4, 9, 31, 64}) {
    for (ResizeFilter f : {ResizeFilter::kBilinearAntialias, ResizeFilter::kBicubicPil}) {
      const std::vector<float> out = PreprocessImage(img, size, f);
      ASSERT_EQ(out.size(), size_t(size) * size * 3);
      const float want = f == ResizeFilter::kBicubicPil
                             ? (static_cast<float>(200.0 / 255.0) - 0.5f) / 0.5f
                             : 200.0f / 127.5f - 1.0f;
      for (float v : out) ASSERT_NEAR(v, want, 1e-5) << ResizeFilterName(f) << " " << size;
    }
  }
  const std::vector<float> noisy = PreprocessImage(RandomImage(50, 70, 3), 24,
                                                   ResizeFilter::kBicubicPil);
  for (float v : noisy) ASSERT_TRUE(v >= -1.0f && v <= 1.0f) << v;  // clipped to uint8 first
}

TEST(ImageResize, BadArguments) {
  ExpectError([] { ParseResizeFilter("lanczos"); }, {"lanczos", "bilinear", "bicubic"});
  ExpectError([] { PreprocessImage(Image{}, 16, ResizeFilter::kBicubicPil); }, {"no pixels"});
  ExpectError([] { PreprocessImage(RandomImage(4, 4, 1), 0, ResizeFilter::kBicubicPil); },
              {"target size"});
  Image broken = RandomImage(4, 4, 1);
  broken.rgb.pop_back();
  ExpectError([&] { PreprocessImage(broken, 8, ResizeFilter::kBilinearAntialias); },
              {"buffer"});
}

// ---- Error paths -----------------------------------------------------------------------------

TEST(ImageDecodeErrors, EmptyMissingAndNonImageFiles) {
  const std::string empty = WriteTemp("empty.jpg", {});
  ExpectError([&] { DecodeImageFile(empty); }, {"'" + empty + "'", "empty"});
  const std::string missing = kFixtures + "no_such_file.png";
  ExpectError([&] { DecodeImageFile(missing); }, {"'" + missing + "'", "cannot open"});
  ExpectError([&] { DecodeImageFile(kFixtures); }, {kFixtures});  // a directory
  const std::string text = "<!DOCTYPE html><html>not an image</html>";
  const std::string html = WriteTemp("page.png", std::vector<uint8_t>(text.begin(), text.end()));
  ExpectError([&] { DecodeImageFile(html); }, {"'" + html + "'", "not an image we can read"});
  const std::string gif_magic = "GIF89a\x01\x00\x01\x00";
  const std::string gif =
      WriteTemp("anim.png", std::vector<uint8_t>(gif_magic.begin(), gif_magic.end()));
  ExpectError([&] { DecodeImageFile(gif); }, {"'" + gif + "'", "GIF"});
}

TEST(ImageDecodeErrors, TruncatedFilesAreErrorsNotGreyPixels) {
  for (const std::string file : {"rgb_37x23_q90.jpg", "rgb_37x23_progressive.jpg",
                                 "rgb_37x23.png", "rgb_interlaced_37x23.png"}) {
    const std::vector<uint8_t> full = ReadBytes(kFixtures + file);
    const bool jpeg = IsJpeg(file);
    // Cut inside the header, the entropy / IDAT data, and just before the end marker.
    for (size_t keep : {size_t(3), size_t(9), size_t(40), full.size() / 2, full.size() - 20,
                        full.size() - (jpeg ? 2 : 12)}) {
      SCOPED_TRACE(file + " cut to " + std::to_string(keep) + " bytes");
      const std::vector<uint8_t> cut(full.begin(), full.begin() + keep);
      const std::string path = WriteTemp("cut_" + std::to_string(keep) + "_" + file, cut);
      ExpectError([&] { DecodeImageFile(path); }, {"'" + path + "'", jpeg ? "JPEG" : "PNG"});
    }
  }
  const std::vector<uint8_t> jpg = ReadBytes(kFixtures + "rgb_37x23_q90.jpg");
  const std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + jpg.size() / 2);
  ExpectError([&] { DecodeImageBuffer(cut.data(), cut.size(), "half.jpg"); },
              {"'half.jpg'", "truncated JPEG data"});
}

// Offset of the first SOF0/SOF2 marker segment in a JPEG.
size_t FindSof(const std::vector<uint8_t>& jpg) {
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && (jpg[i + 1] == 0xC0 || jpg[i + 1] == 0xC2)) return i;
  ADD_FAILURE() << "no SOF marker";
  return 0;
}

std::vector<uint8_t> JpegWithSize(uint16_t w, uint16_t h) {
  std::vector<uint8_t> jpg = ReadBytes(kFixtures + "rgb_37x23_q90.jpg");
  const size_t sof = FindSof(jpg);  // FF C0, length(2), precision(1), height(2), width(2)
  jpg[sof + 5] = h >> 8, jpg[sof + 6] = h & 255, jpg[sof + 7] = w >> 8, jpg[sof + 8] = w & 255;
  return jpg;
}

std::vector<uint8_t> PngWithSize(uint32_t w, uint32_t h) {
  std::vector<uint8_t> png = ReadBytes(kFixtures + "rgb_37x23.png");
  // Signature(8), IHDR length(4), "IHDR"(4), width(4), height(4), ..., CRC over type+data.
  for (int i = 0; i < 4; ++i) {
    png[16 + i] = (w >> (24 - 8 * i)) & 255;
    png[20 + i] = (h >> (24 - 8 * i)) & 255;
  }
  const uLong crc = crc32(0L, png.data() + 12, 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = (crc >> (24 - 8 * i)) & 255;
  return png;
}

TEST(ImageDecodeErrors, HugeHeadersAreRejectedBeforeAllocating) {
  const std::string png = WriteTemp("huge.png", PngWithSize(65535, 65535));
  ExpectError([&] { DecodeImageFile(png); }, {"'" + png + "'", "65535x65535", "limit"});
  const std::string jpg = WriteTemp("huge.jpg", JpegWithSize(65535, 65535));
  ExpectError([&] { DecodeImageFile(jpg); }, {"'" + jpg + "'", "JPEG"});
  // Below libjpeg's own 65500 limit, so this one is caught by max_pixels.
  const std::string jpg2 = WriteTemp("big.jpg", JpegWithSize(60000, 60000));
  ExpectError([&] { DecodeImageFile(jpg2); }, {"'" + jpg2 + "'", "60000x60000", "limit"});
  // The limit is configurable.
  DecodeOptions small;
  small.max_pixels = 37 * 23 - 1;
  ExpectError([&] { DecodeImageFile(kFixtures + "rgb_37x23.png", small); }, {"37x23", "limit"});
  ExpectError([&] { DecodeImageFile(kFixtures + "rgb_37x23_q90.jpg", small); }, {"limit"});
  small.max_pixels = 37 * 23;
  EXPECT_EQ(DecodeImageFile(kFixtures + "rgb_37x23.png", small).height, 23);
}

TEST(ImageDecodeErrors, CorruptDataIsAnErrorNamingTheFile) {
  std::vector<uint8_t> png = ReadBytes(kFixtures + "rgb_37x23.png");
  png[png.size() / 2] ^= 0x5A;  // inside IDAT: the chunk CRC no longer matches
  const std::string p = WriteTemp("crc.png", png);
  ExpectError([&] { DecodeImageFile(p); }, {"'" + p + "'", "PNG"});
  std::vector<uint8_t> jpg = ReadBytes(kFixtures + "rgb_37x23_q90.jpg");
  jpg[FindSof(jpg) + 9] = 2;  // two colour components
  const std::string j = WriteTemp("twocomp.jpg", jpg);
  ExpectError([&] { DecodeImageFile(j); }, {"'" + j + "'", "JPEG"});
}

// Random byte flips and cuts: every outcome is either an image or a pg::Error, never a crash.
TEST(ImageDecodeErrors, FuzzedInputsNeverCrash) {
  int errors = 0, decoded = 0;
  for (const std::string file : {"rgb_37x23_q90.jpg", "rgb_37x23_progressive.jpg",
                                 "rgb_37x23.png", "palette4_interlaced_15x9.png"}) {
    const std::vector<uint8_t> orig = ReadBytes(kFixtures + file);
    std::mt19937 rng(1234);
    for (int iter = 0; iter < 300; ++iter) {
      std::vector<uint8_t> buf = orig;
      const int flips = 1 + int(rng() % 8);
      for (int k = 0; k < flips; ++k) buf[rng() % buf.size()] = uint8_t(rng());
      if (iter % 3 == 0) buf.resize(rng() % buf.size());
      try {
        const Image img = DecodeImageBuffer(buf.data(), buf.size(), file);
        ASSERT_EQ(img.rgb.size(), size_t(img.width) * img.height * 3);
        ++decoded;
      } catch (const Error& e) {
        ASSERT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
        ++errors;
      }
    }
  }
  std::printf("fuzz: %d decoded (corrupt-data warnings are ignored, as in PIL), %d errors\n",
              decoded, errors);
  EXPECT_GT(errors, 0);
}

// The demo images in assets/images (scripts/make_sample_images.py) decode; the bad ones do not.
TEST(ImageDecode, SampleAssets) {
  const std::string dir = std::string(PG_SOURCE_DIR) + "/assets/images/";
  std::ifstream labels(dir + "labels.txt");
  ASSERT_TRUE(labels.good()) << "missing " << dir << "labels.txt";
  int count = 0;
  for (std::string line; std::getline(labels, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << "labels.txt line without a tab: " << line;
    const Image img = DecodeImageFile(dir + line.substr(0, tab));
    EXPECT_GT(img.width, 0);
    EXPECT_LE(img.width, 224);
    EXPECT_EQ(PreprocessImage(img, 224, ResizeFilter::kBilinearAntialias).size(), 224u * 224 * 3);
    ++count;
  }
  EXPECT_GE(count, 5);
  ExpectError([&] { DecodeImageFile(dir + "bad/truncated.jpg"); },
              {"bad/truncated.jpg'", "truncated JPEG data"});
  ExpectError([&] { DecodeImageFile(dir + "bad/not_an_image.png"); },
              {"bad/not_an_image.png'", "not an image we can read"});
}

}  // namespace
}  // namespace pg
