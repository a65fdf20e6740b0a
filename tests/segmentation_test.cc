// The strict parser of detect / segment answers (io/segmentation.h).
#include <gtest/gtest.h>

#include "io/segmentation.h"

namespace pg {
namespace {

std::string Loc(int v) {
  char b[16];
  std::snprintf(b, sizeof(b), "<loc%04d>", v);
  return b;
}
std::string Seg(int v) {
  char b[16];
  std::snprintf(b, sizeof(b), "<seg%03d>", v);
  return b;
}
std::string Box(int y0, int x0, int y1, int x1) { return Loc(y0) + Loc(x0) + Loc(y1) + Loc(x1); }
std::string Segs(int n, int first = 0) {
  std::string s;
  for (int i = 0; i < n; ++i) s += Seg((first + 7 * i) % 128);
  return s;
}

TEST(Segmentation, PromptKinds) {
  AnswerKind k;
  ASSERT_TRUE(AnswerKindOfPrompt("segment cat", &k));
  EXPECT_EQ(k, AnswerKind::kSegment);
  ASSERT_TRUE(AnswerKindOfPrompt("  detect cat ; dog", &k));
  EXPECT_EQ(k, AnswerKind::kDetect);
  EXPECT_FALSE(AnswerKindOfPrompt("segmentation cat", &k));
  EXPECT_FALSE(AnswerKindOfPrompt("caption en", &k));
}

TEST(Segmentation, ParsesSeveralObjects) {
  const std::string text = Box(100, 200, 900, 700) + Segs(16, 3) + " cat ; " + Box(0, 0, 1023, 1023) + Segs(16, 5) +
                           " big dog";
  const SegmentParse p = ParseSegmentAnswer(text, AnswerKind::kSegment);
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.objects.size(), 2u);
  EXPECT_EQ(p.objects[0].loc, (std::array<int, 4>{100, 200, 900, 700}));
  EXPECT_EQ(p.objects[0].label, "cat");
  ASSERT_EQ(p.objects[0].codes.size(), 16u);
  EXPECT_EQ(p.objects[0].codes[0], 3);
  EXPECT_EQ(p.objects[0].codes[15], (3 + 7 * 15) % 128);
  EXPECT_EQ(p.objects[1].label, "big dog");
  EXPECT_EQ(p.objects[1].codes[1], 12);
  const Detection d = ObjectBox(p.objects[0], 2046, 1023);
  EXPECT_FLOAT_EQ(d.y0, 100.f);
  EXPECT_FLOAT_EQ(d.x0, 400.f);
  EXPECT_FLOAT_EQ(d.y1, 900.f);
  EXPECT_FLOAT_EQ(d.x1, 1400.f);
  EXPECT_EQ(d.label, "cat");
}

TEST(Segmentation, DetectAnswersNeedNoCodes) {
  const SegmentParse p = ParseSegmentAnswer(Box(1, 2, 3, 4) + " shoe ; " + Box(5, 6, 7, 8) + " sock", AnswerKind::kDetect);
  ASSERT_EQ(p.error, "");
  ASSERT_EQ(p.objects.size(), 2u);
  EXPECT_TRUE(p.objects[0].codes.empty());
  EXPECT_EQ(p.objects[1].label, "sock");
  EXPECT_TRUE(ParseSegmentAnswer("  ", AnswerKind::kDetect).objects.empty());
  EXPECT_EQ(ParseSegmentAnswer("", AnswerKind::kSegment).error, "");
}

TEST(Segmentation, MalformedAnswersGiveErrorsNotObjects) {
  struct Case {
    std::string text, error;
    AnswerKind kind = AnswerKind::kSegment;
  };
  const std::vector<Case> cases = {
      {Box(1, 2, 3, 4) + Segs(9) + " cat", "object 1 (byte 108): 9 <seg000>..<seg127> tokens after the box; a mask is exactly 16"},
      {Box(1, 2, 3, 4) + Segs(17) + " cat", "17 <seg000>..<seg127> tokens"},
      {Box(1, 2, 3, 4) + " cat", "object 1 (byte 36): 0 <seg000>..<seg127> tokens"},
      {Box(1, 2, 3, 4) + Segs(5) + " cat", "5 <seg000>..<seg127> tokens", AnswerKind::kDetect},
      {Box(500, 2, 100, 4) + Segs(16) + " cat",
       "object 1 (byte 0): box <loc500><loc2><loc100><loc4> is out of order: [ymin, xmin, ymax, xmax] needs ymax > ymin"},
      {Box(1, 9, 3, 9) + Segs(16), "is out of order"},
      {Loc(1) + Loc(2) + " cat", "object 1 (byte 0): expected a box of 4 <loc0000>..<loc1023> tokens, found 2"},
      {"a cat", "object 1 (byte 0): expected a box of 4"},
      {Box(1, 2, 3, 4) + Segs(16) + " cat ; dog", "object 2 (byte 171): expected a box of 4"},
      {Box(1, 2, 3, 4) + Segs(16) + " cat ;", "object 2"},
      {Box(1, 2, 3, 4) + Segs(16) + " cat " + Box(1, 2, 3, 4) + Segs(16), "object 1 (byte 169): a <loc>/<seg> token inside the label"},
      {Box(1, 2, 3, 4) + Segs(16) + " c<seg99", "inside the label"},
      {"<loc1024><loc0001><loc0002><loc0003>", "found 0"},
  };
  for (const Case& c : cases) {
    const SegmentParse p = ParseSegmentAnswer(c.text, c.kind);
    EXPECT_TRUE(p.objects.empty()) << c.text;
    EXPECT_NE(p.error.find(c.error), std::string::npos) << c.text << "\n  error: " << p.error;
  }
}

}  // namespace
}  // namespace pg
