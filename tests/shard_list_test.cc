// caption_job/shard_list.h: brace expansion, globs, directories, list files, output names,
// collisions, --shard-range.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "caption_job/shard_list.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

using V = std::vector<std::string>;

template <typename Fn>
std::string ErrorOf(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ShardList, BraceExpansionAsBash) {
  EXPECT_EQ(ExpandBraces("d/{00008..00011}.tar"), (V{"d/00008.tar", "d/00009.tar", "d/00010.tar", "d/00011.tar"}));
  EXPECT_EQ(ExpandBraces("{8..11}"), (V{"8", "9", "10", "11"}));
  EXPECT_EQ(ExpandBraces("{3..1}"), (V{"3", "2", "1"}));
  EXPECT_EQ(ExpandBraces("{-1..1}"), (V{"-1", "0", "1"}));
  EXPECT_EQ(ExpandBraces("{a,b}/{1..2}"), (V{"a/1", "a/2", "b/1", "b/2"}));
  EXPECT_EQ(ExpandBraces("x{a,{b,c}d}"), (V{"xa", "xbd", "xcd"}));
  EXPECT_EQ(ExpandBraces("lit{x}{1..2}"), (V{"lit{x}1", "lit{x}2"}));
  EXPECT_EQ(ExpandBraces("plain.tar"), (V{"plain.tar"}));
  EXPECT_NE(ErrorOf([] { ExpandBraces("a{1..3"); }).find("'a{1..3': the '{' at byte 1 is never closed"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { ExpandBraces("{1..100}{1..100}", 1000); }).find("more than 1000 names"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ExpandBraces("{0..999999999999999}"); }).find("{0..999999999999999} expands to more than"),
            std::string::npos);
}

TEST(ShardList, GlobsDirectoriesAndListFiles) {
  const fs::path dir = fs::path(testing::TempDir()) / "shard_list_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "d");
  for (const char* n : {"d/00002.tar", "d/00001.tar", "d/00003.tgz", "d/notes.txt"}) std::ofstream(dir / n) << "x";
  const std::string d = (dir / "d").string();
  EXPECT_EQ(ListShards(d + "/*.tar"), (V{d + "/00001.tar", d + "/00002.tar"}));
  EXPECT_EQ(ListShards(d), (V{d + "/00001.tar", d + "/00002.tar", d + "/00003.tgz"}));
  // A list file: relative lines from the list's directory, comments, patterns, order kept.
  std::ofstream(dir / "list.txt") << "# shards\n\nd/00003.tgz\n  d/{00001..00002}.tar  \r\n";
  EXPECT_EQ(ListShards((dir / "list.txt").string()), (V{d + "/00003.tgz", d + "/00001.tar", d + "/00002.tar"}));
  EXPECT_NE(ErrorOf([&] { ListShards(d + "/*.zip"); }).find("matches no file"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ListShards("{" + d + "/00001.tar," + d + "/./00001.tar}"); }).find("names the shard"),
            std::string::npos);
  const std::string clash2 = ErrorOf([&] { ListShards("{" + d + "/00002.tar," + (dir / "x/00002.tar").string() + "}"); });
  EXPECT_NE(clash2.find("would both write '00002.jsonl'"), std::string::npos) << clash2;
  fs::remove_all(dir);
}

TEST(ShardList, OutputNames) {
  EXPECT_EQ(ShardOutputName("data/00042.tar"), "00042.jsonl");
  EXPECT_EQ(ShardOutputName("data/00042.TAR.GZ"), "00042.jsonl");
  EXPECT_EQ(ShardOutputName("00042.tgz"), "00042.jsonl");
  EXPECT_EQ(ShardOutputName("shard-7"), "shard-7.jsonl");
  EXPECT_TRUE(HasTarExtension("a/b.tar.gz"));
  EXPECT_FALSE(HasTarExtension("a/b.txt"));
}

TEST(ShardList, Ranges) {
  auto r = [](const std::string& s, int64_t n) {
    const ShardRange x = ParseShardRange(s, n);
    return std::make_pair(x.begin, x.end);
  };
  EXPECT_EQ(r("", 7), std::make_pair(int64_t{0}, int64_t{7}));
  EXPECT_EQ(r("2:5", 7), std::make_pair(int64_t{2}, int64_t{5}));
  EXPECT_EQ(r("5:", 7), std::make_pair(int64_t{5}, int64_t{7}));
  EXPECT_EQ(r("5:100", 7), std::make_pair(int64_t{5}, int64_t{7}));
  EXPECT_EQ(r("9:12", 7), std::make_pair(int64_t{7}, int64_t{7}));  // past the end: nothing to do
  EXPECT_EQ(r("0/2", 7), std::make_pair(int64_t{0}, int64_t{3}));
  EXPECT_EQ(r("1/2", 7), std::make_pair(int64_t{3}, int64_t{7}));
  // K/N parts tile the list exactly.
  for (int64_t n : {1, 7, 100})
    for (int64_t parts : {1, 3, 8}) {
      int64_t next = 0;
      for (int64_t k = 0; k < parts; ++k) {
        const ShardRange x = ParseShardRange(std::to_string(k) + "/" + std::to_string(parts), n);
        EXPECT_EQ(x.begin, next);
        next = x.end;
      }
      EXPECT_EQ(next, n);
    }
  EXPECT_NE(ErrorOf([] { ParseShardRange("5:2", 7); }).find("A > B"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseShardRange("2/2", 7); }).find("0 <= K < N"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseShardRange("a:b", 7); }).find("--shard-range 'a:b'"), std::string::npos);
  EXPECT_NE(ErrorOf([] { ParseShardRange("3", 7); }).find("expected A:B, A: or K/N"), std::string::npos);
}

}  // namespace
}  // namespace pg
