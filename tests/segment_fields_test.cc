// Detect / segment records (caption_job/segment_fields.h): a "segment cat ; dog" answer with the
// random decoder of tests/fixtures/masks gives boxes, RLE masks equal to the paste of the
// decoder's own masks, and PNGs; malformed answers give a parse error and the raw text.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "caption_job/segment_fields.h"
#include "io/image_decode.h"
#include "io/mask_paste.h"
#include "io/mask_rle.h"
#include "runtime/backend.h"
#include "tests/checkpoint_test_util.h"

namespace pg {
namespace {

const std::string kVae = std::string(PG_SOURCE_DIR) + "/tests/fixtures/masks/vae_random.npz";

std::string Tag(const char* fmt, int v) {
  char b[16];
  std::snprintf(b, sizeof(b), fmt, v);
  return b;
}
std::string Object(const std::array<int, 4>& loc, const std::vector<int>& codes, const std::string& label) {
  std::string s;
  for (int v : loc) s += Tag("<loc%04d>", v);
  for (int c : codes) s += Tag("<seg%03d>", c);
  return s + " " + label;
}

std::vector<int> Codes(int first) {
  std::vector<int> c(16);
  for (int i = 0; i < 16; ++i) c[i] = (first + 11 * i) % 128;
  return c;
}

CaptionResult Result(const std::string& text, int64_t index) {
  CaptionResult r;
  r.image = "img.png";
  r.index = index;
  r.text = text;
  return r;
}

TEST(SegmentFields, SegmentRecordsCarryRleMasksAndPngs) {
  auto be = MakeBackend("cpu");
  MaskDecoder dec(kVae, *be);
  testing::TempDir dir;
  const std::string masks_dir = dir.File("masks");
  const std::array<int, 4> cat = {100, 200, 900, 700}, dog = {0, 512, 1023, 1023};
  CaptionResult r = Result(Object(cat, Codes(3), "cat") + " ; " + Object(dog, Codes(70), "dog"), 7);
  const int W = 120, H = 90;
  AddSegmentFields("segment cat ; dog", W, H, SegmentOutput{&dec, masks_dir}, &r);
  ASSERT_EQ(r.parse_error, "");
  ASSERT_EQ(r.boxes.size(), 2u);
  ASSERT_EQ(r.masks.size(), 2u);
  EXPECT_EQ(r.mask_note, "");
  const std::vector<float> m64 = dec.Decode(Codes(70));
  const std::vector<uint8_t> want = PasteMask(m64, 64, 64, dog, W, H);
  EXPECT_EQ(r.masks[1].counts, RleString(RleCounts(want, H, W)));
  EXPECT_EQ(r.masks[1].png, "7_1.png");
  const Image png = DecodeImageFile(masks_dir + "/7_1.png");
  ASSERT_EQ(png.width, W);
  ASSERT_EQ(png.height, H);
  int64_t area = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(png.rgb[3 * i], want[i] ? 255 : 0) << i;
    area += want[i];
  }
  EXPECT_GT(area, 0);
  EXPECT_LT(area, int64_t{W} * H / 2 + 1);  // inside the right half of the image
  EXPECT_TRUE(std::filesystem::exists(masks_dir + "/7_0.png"));

  const nlohmann::json j = nlohmann::json::parse(OkRecordLine(r));
  EXPECT_TRUE(j["parse_error"].is_null());
  EXPECT_EQ(j["boxes"][0]["label"], "cat");
  EXPECT_DOUBLE_EQ(j["boxes"][1]["x0"].get<double>(), 60.06);  // 512 / 1023 * 120, 1/100 px
  EXPECT_EQ(j["boxes"][1]["mask"]["size"], nlohmann::json::array({H, W}));
  EXPECT_EQ(j["boxes"][1]["mask"]["counts"], r.masks[1].counts);
  EXPECT_EQ(j["boxes"][1]["mask_png"], "7_1.png");
}

TEST(SegmentFields, WithoutVaeBoxesAndANote) {
  CaptionResult r = Result(Object({1, 2, 500, 600}, Codes(0), "cat"), 0);
  AddSegmentFields("segment cat", 100, 100, SegmentOutput{}, &r);
  EXPECT_EQ(r.boxes.size(), 1u);
  EXPECT_TRUE(r.masks.empty());
  const nlohmann::json j = nlohmann::json::parse(OkRecordLine(r));
  EXPECT_EQ(j["mask_note"], "masks need --vae (big_vision's vae-oid.npz)");
  EXPECT_FALSE(j["boxes"][0].contains("mask"));
}

TEST(SegmentFields, MalformedAnswersKeepTheTextAndSayWhy) {
  auto be = MakeBackend("cpu");
  MaskDecoder dec(kVae, *be);
  std::vector<int> few = Codes(5);
  few.resize(9);
  const std::string text = Object({1, 2, 500, 600}, few, "cat");
  CaptionResult r = Result(text, 3);
  AddSegmentFields("segment cat", 100, 100, SegmentOutput{&dec, ""}, &r);
  const nlohmann::json j = nlohmann::json::parse(OkRecordLine(r));
  EXPECT_EQ(j["text"], text);
  EXPECT_EQ(j["boxes"], nlohmann::json::array());
  EXPECT_NE(j["parse_error"].get<std::string>().find("9 <seg000>..<seg127> tokens after the box"), std::string::npos);

  CaptionResult d = Result(Object({500, 2, 400, 600}, {}, "cat"), 4);
  AddSegmentFields("detect cat", 100, 100, SegmentOutput{&dec, ""}, &d);
  EXPECT_NE(d.parse_error.find("out of order"), std::string::npos) << d.parse_error;

  CaptionResult c = Result("a cat", 5);  // not a detect/segment prompt: no fields
  AddSegmentFields("caption en", 100, 100, SegmentOutput{&dec, ""}, &c);
  EXPECT_FALSE(nlohmann::json::parse(OkRecordLine(c)).contains("parse_error"));
}

}  // namespace
}  // namespace pg
