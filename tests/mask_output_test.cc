// From a decoded 64x64 mask to the outputs: Pillow-exact bilinear resize, big_vision's paste
// into the box, COCO RLE strings byte for byte as pycocotools writes them, and the PNG writer.
// References: tests/fixtures/masks/ from tests/golden/make_mask_fixtures.py (PIL, pycocotools).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/image_decode.h"
#include "io/mask_paste.h"
#include "io/mask_rle.h"
#include "io/npz_reader.h"
#include "io/png_write.h"
#include "tests/checkpoint_test_util.h"
#include "tests/error_matchers.h"

namespace pg {
namespace {

const std::string kDir = std::string(PG_SOURCE_DIR) + "/tests/fixtures/masks/";

nlohmann::json Reference() {
  std::ifstream f(kDir + "reference.json");
  return nlohmann::json::parse(f);
}

std::vector<float> Mask64(const NpzReader& npz, int i) {
  const std::vector<float> all = npz.ReadAsF32(*npz.Find("masks64"));
  return std::vector<float>(all.begin() + i * 4096, all.begin() + (i + 1) * 4096);
}

TEST(MaskOutput, ResizeMatchesPillow) {
  NpzReader npz(kDir + "reference.npz");
  const nlohmann::json doc = Reference();
  ASSERT_FALSE(doc["resizes"].empty());
  for (const auto& r : doc["resizes"]) {
    const int h = r["height"], w = r["width"];
    const std::vector<float> want = npz.ReadAsF32(*npz.Find(r["name"].get<std::string>()));
    const std::vector<float> got = ResizeBilinearPil(Mask64(npz, r["mask"]), 64, 64, h, w);
    ASSERT_EQ(got.size(), want.size());
    double max_ref = 0, max_err = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
      max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - want[i]));
    }
    EXPECT_LE(max_err, 1e-6 * max_ref) << r.dump();
  }
  EXPECT_ERROR_HAS(ResizeBilinearPil({1.f}, 1, 1, 0, 3), "sizes must be positive");
}

TEST(MaskOutput, PasteAndRleMatchBigVisionAndPycocotools) {
  NpzReader npz(kDir + "reference.npz");
  const nlohmann::json doc = Reference();
  ASSERT_GE(doc["cases"].size(), 5u);
  for (const auto& c : doc["cases"]) {
    const int w = c["width"], h = c["height"];
    const std::array<int, 4> loc = c["loc"].get<std::array<int, 4>>();
    const std::vector<uint8_t> full = PasteMask(Mask64(npz, c["mask"]), 64, 64, loc, w, h);
    int64_t area = 0;
    for (uint8_t v : full) area += v;
    EXPECT_EQ(area, c["area"].get<int64_t>()) << c.dump();
    const std::vector<uint32_t> counts = RleCounts(full, h, w);
    EXPECT_EQ(RleString(counts), c["counts"].get<std::string>()) << c.dump();
    EXPECT_EQ(RleStringToCounts(c["counts"].get<std::string>()), counts);
  }
}

TEST(MaskOutput, RleEdgeCases) {
  // All background, all object, and a mask starting with the object (first count 0).
  EXPECT_EQ(RleCounts(std::vector<uint8_t>(6, 0), 2, 3), (std::vector<uint32_t>{6}));
  EXPECT_EQ(RleCounts(std::vector<uint8_t>(6, 1), 2, 3), (std::vector<uint32_t>{0, 6}));
  // [[1, 0, 0], [1, 1, 0]] column-major: 1 1 0 1 0 0 -> 0, 2, 1, 1, 2
  EXPECT_EQ(RleCounts({1, 0, 0, 1, 1, 0}, 2, 3), (std::vector<uint32_t>{0, 2, 1, 1, 2}));
  const std::vector<uint32_t> big = {100000, 3, 1, 70000, 5, 0, 9};
  EXPECT_EQ(RleStringToCounts(RleString(big)), big);
  EXPECT_ERROR_HAS(RleStringToCounts("0\x7f"), "bad character");
  EXPECT_ERROR_HAS(RleCounts({1, 0}, 2, 3), "2 values for a 2x3 mask");
}

TEST(MaskOutput, PngRoundTrip) {
  testing::TempDir dir;
  std::vector<uint8_t> px(7 * 5);
  for (size_t i = 0; i < px.size(); ++i) px[i] = (i % 3) ? 255 : 0;
  const std::string p = dir.File("m.png");
  WritePngGray(p, px, 7, 5);
  const Image im = DecodeImageFile(p);
  ASSERT_EQ(im.width, 7);
  ASSERT_EQ(im.height, 5);
  for (size_t i = 0; i < px.size(); ++i) ASSERT_EQ(im.rgb[3 * i], px[i]) << i;
  EXPECT_ERROR_HAS(WritePngGray(dir.File("no/such/dir.png"), px, 7, 5), "no/such/dir.png");
  EXPECT_ERROR_HAS(WritePngGray(p, px, 6, 5), "35 pixels for 6x5");
}

}  // namespace
}  // namespace pg
