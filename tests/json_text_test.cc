// caption_job/json_text.h: what the caption job's JSON files store for non-UTF-8 strings.
#include "caption_job/json_text.h"

#include <gtest/gtest.h>

#include "caption_job/caption_record.h"
#include "tests/error_matchers.h"

namespace pg {
namespace {

TEST(JsonText, ValidUtf8IsUnchanged) {
  EXPECT_EQ(JsonSafeText("caption en"), "caption en");
  EXPECT_EQ(JsonSafeText("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_NO_THROW(CheckUtf8("caf\xc3\xa9", "--prompt"));
}

TEST(JsonText, InvalidBytesBecomeReplacementCharactersAsInRecords) {
  const std::string latin1 = "images/caf\xe9.png";
  EXPECT_EQ(JsonSafeText(latin1), "images/caf\xef\xbf\xbd.png");
  // The record line holds exactly JsonSafeText(path), so a resume can match it.
  const std::string line = ErrorRecordLine(latin1, 3, "x");
  EXPECT_NE(line.find("\"image\":\"" + JsonSafeText(latin1) + "\""), std::string::npos) << line;
}

TEST(JsonText, CheckUtf8NamesTheInputAndTheByte) {
  EXPECT_ERROR_HAS(CheckUtf8("caption \xff en", "--prompt"), "--prompt is not valid UTF-8");
  EXPECT_ERROR_HAS(CheckUtf8("caption \xff en", "--prompt"), "0xFF");
}

TEST(JsonText, ShortenForMessageKeepsShortTextAndCutsLongText) {
  EXPECT_EQ(ShortenForMessage("short"), "short");
  const std::string cut = ShortenForMessage(std::string(100, 'a'), 10);
  EXPECT_EQ(cut, "aaaaaaaaaa... (100 bytes)");
}

}  // namespace
}  // namespace pg
