// What the caption job writes and prints: record lines (caption_job/caption_record.h) and the
// progress report (caption_job/progress.h).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "caption_job/caption_record.h"
#include "caption_job/part_files.h"
#include "caption_job/progress.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

TEST(CaptionRecord, OkLineHasTheDocumentedFieldsInOrder) {
  CaptionResult r;
  r.image = "images/a \"b\".png";
  r.index = 7;
  r.text = "a red square";
  r.tokens = 3;
  r.hit_eos = true;
  EXPECT_EQ(OkRecordLine(r),
            R"({"image":"images/a \"b\".png","index":7,"status":"ok","text":"a red square","tokens":3,)"
            R"("eos":true,"error":null})");
}

TEST(CaptionRecord, ErrorLine) {
  EXPECT_EQ(ErrorRecordLine("x.jpg", 0, "image 'x.jpg': truncated JPEG data"),
            R"({"image":"x.jpg","index":0,"status":"error","text":null,"tokens":0,)"
            R"("error":"image 'x.jpg': truncated JPEG data"})");
}

TEST(CaptionRecord, InvalidUtf8IsReplacedNotThrown) {
  CaptionResult r;
  r.image = "a.png";
  r.text = std::string("ab\xE2\x82", 4);  // a 3-byte character cut after 2 bytes
  const std::string line = OkRecordLine(r);
  EXPECT_NE(line.find("\"text\":\"ab\xEF\xBF\xBD\""), std::string::npos) << line;  // U+FFFD
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(CaptionRecord, DetectionBoxesInOriginalPixels) {
  EXPECT_TRUE(IsDetectionPrompt("detect cat"));
  EXPECT_TRUE(IsDetectionPrompt("  detect cat ; dog"));
  EXPECT_FALSE(IsDetectionPrompt("caption en"));
  EXPECT_FALSE(IsDetectionPrompt("detector"));
  CaptionResult r;
  r.image = "a.png";
  r.text = "<loc0000><loc0512><loc1023><loc0256> cat ; <loc0100><loc0000><loc0200><loc1023> dog";
  r.with_boxes = true;
  // y from the height (100), x from the width (200), v / 1023 (io/detection.h).
  r.boxes = ParseDetectionText(r.text, /*image_w=*/200, /*image_h=*/100);
  ASSERT_EQ(r.boxes.size(), 2u);
  const nlohmann::json j = nlohmann::json::parse(OkRecordLine(r));
  const nlohmann::json& b = j.at("boxes");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].at("label"), "cat");
  EXPECT_DOUBLE_EQ(b[0].at("x0").get<double>(), 100.1);   // 512 / 1023 * 200 = 100.0977
  EXPECT_DOUBLE_EQ(b[0].at("y0").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(b[0].at("x1").get<double>(), 50.05);   // 256 / 1023 * 200 = 50.0489
  EXPECT_DOUBLE_EQ(b[0].at("y1").get<double>(), 100.0);
  EXPECT_EQ(b[1].at("label"), "dog");
  EXPECT_DOUBLE_EQ(b[1].at("y0").get<double>(), 9.78);    // 100 / 1023 * 100 = 9.775
  EXPECT_DOUBLE_EQ(b[1].at("x1").get<double>(), 200.0);
  // A detection prompt with no boxes in the answer still has the key.
  r.boxes.clear();
  EXPECT_NE(OkRecordLine(r).find("\"boxes\":[],\"error\":null}"), std::string::npos);
}

TEST(Progress, LineAndBar) {
  ProgressSnapshot s;
  s.total = 1000;
  s.done_before = 100;
  s.done_now = 20;
  s.errors = 1;
  s.tokens = 400;
  s.elapsed_s = 4;
  EXPECT_EQ(FormatProgressLine(s),
            "caption: 120/1000 images (12.0%), 5.0 images/s, 100 tokens/s, 1 error, ETA 0:02:56");
  EXPECT_EQ(FormatProgressBar(s, 10), "[#.........] 120/1000 images  5.0 img/s  100 tok/s  1 err  ETA 0:02:56");
  s.done_now = 0;
  EXPECT_EQ(FormatProgressLine(s), "caption: 100/1000 images (10.0%), 0.0 images/s, 100 tokens/s, 1 error, ETA ?");
  s.done_now = 900;
  EXPECT_NE(FormatProgressLine(s).find("ETA 0:00:00"), std::string::npos);
  EXPECT_EQ(FormatDuration(3725), "1:02:05");
  EXPECT_EQ(FormatDuration(NAN), "?");
  EXPECT_EQ(ParseProgressMode("lines"), ProgressMode::kLines);
  EXPECT_THROW(ParseProgressMode("loud"), Error);
}

TEST(Progress, TailCountsOnlyNewCompleteLinesOfEveryPartFile) {
  std::string dir = (fs::temp_directory_path() / "caption_progress_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  auto append = [&](int part, const std::string& text) {
    std::ofstream(PartFilePath(dir, part), std::ios::app | std::ios::binary) << text;
  };
  CaptionResult r;
  r.image = "a.png";
  r.tokens = 5;
  append(0, OkRecordLine(r) + "\n");  // before the run: not counted
  PartFileTail tail(dir);
  ProgressSnapshot s;
  tail.Poll(&s);
  EXPECT_EQ(s.done_now, 0);
  append(0, OkRecordLine(r) + "\n" + ErrorRecordLine("b.png", 1, "bad") + "\n{\"image\":");
  append(3, OkRecordLine(r) + "\n");  // a new part file (another replica)
  tail.Poll(&s);
  EXPECT_EQ(s.done_now, 3);
  EXPECT_EQ(s.errors, 1);
  EXPECT_EQ(s.tokens, 10);
  append(0, "\"c.png\",\"index\":2,\"status\":\"ok\",\"tokens\":4}\n");  // the torn line completed
  tail.Poll(&s);
  EXPECT_EQ(s.done_now, 4);
  EXPECT_EQ(s.tokens, 14);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pg
