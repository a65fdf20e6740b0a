// io/tar_reader.h: members in archive order, non-regular entries skipped, damage reported
// (never thrown) with the members read before it, size limits.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "io/tar_reader.h"
#include "tests/tar_test_util.h"

namespace pg {
namespace {

using test::MakeTar;
using test::TarEntry;

const std::vector<TarEntry> kEntries = {
    {"b.jpg", std::string(1000, 'x')}, {"dir", "", AE_IFDIR}, {"a.json", "{}"},
    {"link.jpg", "", AE_IFLNK}, {"sub/c d.txt", "hello"}, {"empty.bin", ""}};

TEST(TarReader, ReadsRegularMembersInOrderAndListsTheOthers) {
  for (const bool gzip : {false, true}) {
    const std::string tar = MakeTar(kEntries, gzip);
    const TarContents t = ReadTarBuffer(tar.data(), tar.size(), "x.tar", {});
    EXPECT_EQ(t.damage, "") << "gzip " << gzip;
    ASSERT_EQ(t.members.size(), 4u);
    EXPECT_EQ(t.members[0].name, "b.jpg");
    EXPECT_EQ(t.members[0].data, std::string(1000, 'x'));
    EXPECT_EQ(t.members[1].name, "a.json");
    EXPECT_EQ(t.members[2].name, "sub/c d.txt");
    EXPECT_EQ(t.members[2].data, "hello");
    EXPECT_EQ(t.members[3].size, 0);
    for (const TarMember& m : t.members) EXPECT_EQ(m.error, "") << m.name;
    ASSERT_EQ(t.skipped.size(), 2u);
    EXPECT_EQ(t.skipped[0], "dir/: directory");
    EXPECT_EQ(t.skipped[1], "link.jpg: symbolic link");
  }
}

TEST(TarReader, TruncatedArchiveKeepsTheMembersBeforeTheCut) {
  const std::string tar = MakeTar(kEntries);
  // The cut falls inside b.jpg's data (header 512 bytes, then 1000 bytes of data).
  const TarContents mid = ReadTarBuffer(tar.data(), 700, "cut.tar", {});
  ASSERT_EQ(mid.members.size(), 1u);
  EXPECT_NE(mid.members[0].error.find("shard 'cut.tar' member 'b.jpg'"), std::string::npos) << mid.members[0].error;
  EXPECT_EQ(mid.members[0].data, "");
  EXPECT_NE(mid.damage.find("shard 'cut.tar': truncated or corrupt in member 1 ('b.jpg')"), std::string::npos)
      << mid.damage;
  // A cut inside a later header: the members before it are intact.
  const TarContents later = ReadTarBuffer(tar.data(), 512 + 1024 + 512 + 1024 + 100, "cut.tar", {});
  EXPECT_NE(later.damage, "");
  ASSERT_GE(later.members.size(), 2u);
  EXPECT_EQ(later.members[1].data, "{}");
}

TEST(TarReader, NotATarIsDamageNotAnException) {
  const std::string junk = "this is not a tar archive at all, just some text that is long enough";
  const TarContents t = ReadTarBuffer(junk.data(), junk.size(), "junk.tar", {});
  EXPECT_TRUE(t.members.empty());
  EXPECT_NE(t.damage.find("shard 'junk.tar'"), std::string::npos) << t.damage;
  const TarContents missing = ReadTarFile("/nonexistent/dir/00000.tar", {});
  EXPECT_NE(missing.damage.find("shard '/nonexistent/dir/00000.tar': cannot open"), std::string::npos)
      << missing.damage;
}

TEST(TarReader, LimitsOnMemberSizeTotalAndCount) {
  const std::string tar = MakeTar(kEntries);
  TarReadOptions o;
  o.max_member_bytes = 999;  // b.jpg (1000 bytes) is not read, the rest is
  TarContents t = ReadTarBuffer(tar.data(), tar.size(), "x.tar", o);
  EXPECT_EQ(t.damage, "");
  ASSERT_EQ(t.members.size(), 4u);
  EXPECT_NE(t.members[0].error.find("1000 bytes, more than the limit of 999"), std::string::npos);
  EXPECT_EQ(t.members[2].data, "hello");
  o = TarReadOptions{};
  o.max_total_bytes = 1001;  // b.jpg fits, a.json's 2 more bytes do not
  t = ReadTarBuffer(tar.data(), tar.size(), "x.tar", o);
  EXPECT_EQ(t.members.size(), 1u);
  EXPECT_NE(t.damage.find("stopped before member 'a.json'"), std::string::npos) << t.damage;
  o = TarReadOptions{};
  o.max_members = 3;
  t = ReadTarBuffer(tar.data(), tar.size(), "x.tar", o);
  EXPECT_NE(t.damage.find("more than 3 entries"), std::string::npos) << t.damage;
}

TEST(TarReader, ReadsFromAFile) {
  const std::string path = testing::TempDir() + "/tar_reader_test.tar";
  const std::string tar = MakeTar(kEntries);
  std::ofstream(path, std::ios::binary).write(tar.data(), static_cast<std::streamsize>(tar.size()));
  const TarContents t = ReadTarFile(path, {});
  EXPECT_EQ(t.damage, "");
  EXPECT_EQ(t.members.size(), 4u);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pg
