// caption_job/shard_samples.h: WebDataset keys, images by content, sorted samples, error samples.
#include <gtest/gtest.h>

#include <array>

#include "caption_job/shard_samples.h"

namespace pg {
namespace {

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "rest of a png";
const std::string kJpeg = std::string("\xFF\xD8\xFF\xE0", 4) + "rest of a jpeg";

TarMember M(const std::string& name, const std::string& data, const std::string& error = "") {
  TarMember m;
  m.name = name;
  m.size = static_cast<int64_t>(data.size());
  m.data = data;
  m.error = error;
  return m;
}

TEST(ShardSamples, KeysAsWebDataset) {
  std::string key, ext;
  const std::vector<std::array<std::string, 3>> cases = {
      {"000000001.jpg", "000000001", "jpg"}, {"a/b/x.seg.png", "a/b/x", "seg.png"}, {"noext", "noext", ""},
      {".hidden.jpg", ".hidden", "jpg"}, {"dir.v2/x.json", "dir.v2/x", "json"}, {"x.", "x", ""}};
  for (const auto& c : cases) {
    SplitSampleKey(c[0], &key, &ext);
    EXPECT_EQ(key, c[1]) << c[0];
    EXPECT_EQ(ext, c[2]) << c[0];
  }
}

TEST(ShardSamples, GroupsSortsAndDecidesImagesByContent) {
  std::vector<TarMember> members = {
      M("b.json", "{\"k\":1}"), M("b.jpg", kJpeg), M("b.txt", "caption b"),
      M("a.webp", kPng),                 // PNG bytes named .webp: the image
      M("a.cls", "3"),                   // ignored next to an image
      M("c.json", "{}"),                 // no image
      M("d.jpg", "not an image"),        // image by name: decoded later, fails there
      M("e", kJpeg),                     // extension-less image
      M("f.png", kPng), M("f.png", kPng),  // the same member twice
      M("g.jpg", "", "shard 's' member 'g.jpg': truncated")};
  const std::vector<ShardSample> s = GroupShardMembers("s.tar", std::move(members));
  ASSERT_EQ(s.size(), 7u);
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e", "f", "g"};
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(s[i].key, keys[i]);
  EXPECT_EQ(s[0].image_member, "a.webp");
  ASSERT_TRUE(s[0].image);
  EXPECT_EQ(*s[0].image, kPng);
  EXPECT_FALSE(s[0].has_meta);
  EXPECT_EQ(s[1].image_member, "b.jpg");
  EXPECT_TRUE(s[1].has_meta && s[1].has_text);
  EXPECT_EQ(s[1].meta, "{\"k\":1}");
  EXPECT_EQ(s[1].text, "caption b");
  EXPECT_EQ(s[1].error, "");
  EXPECT_EQ(s[2].error, "shard 's.tar' key 'c': no image member (found: c.json)");
  EXPECT_EQ(s[2].image_member, "");
  EXPECT_TRUE(s[2].has_meta);
  EXPECT_EQ(s[3].image_member, "d.jpg");
  EXPECT_EQ(s[3].error, "");
  EXPECT_EQ(s[4].image_member, "e");
  EXPECT_EQ(s[5].error, "shard 's.tar' key 'f': the member 'f.png' appears twice in the shard");
  EXPECT_FALSE(s[5].image);
  EXPECT_EQ(s[6].image_member, "g.jpg");
  EXPECT_EQ(s[6].error, "shard 's' member 'g.jpg': truncated");
}

TEST(ShardSamples, ReadShardKeepsDamage) {
  const ShardContents c = ReadShard("/nonexistent/00000.tar", {});
  EXPECT_TRUE(c.samples.empty());
  EXPECT_NE(c.damage.find("cannot open"), std::string::npos);
  EXPECT_EQ(c.shard, "/nonexistent/00000.tar");
}

}  // namespace
}  // namespace pg
