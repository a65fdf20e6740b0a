// The caption job's inputs: the image list (caption_job/image_list.h), the background decoder
// (caption_job/image_prefetcher.h) and the embedded defaults (caption_job/pg_home.h).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "caption_job/image_list.h"
#include "caption_job/image_prefetcher.h"
#include "caption_job/pg_home.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

const std::string kImages = std::string(PG_SOURCE_DIR) + "/tests/fixtures/images";

std::string TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "caption_inputs_XXXXXX").string();
  PG_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
  return tmpl;
}

void Touch(const std::string& path, const std::string& text = "x") {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class ImageListTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ImageListTest, DirectoryIsRecursiveSortedAndFiltered) {
  for (const char* f : {"b.png", "a.JPG", "sub/c.jpeg", "sub/deeper/d.png", "notes.txt", "noext", ".hidden.png",
                        ".git/e.png", "z.Png"})
    Touch(dir_ + "/" + f);
  const std::vector<std::string> got = ListImages(dir_);
  const std::vector<std::string> want = {dir_ + "/a.JPG", dir_ + "/b.png", dir_ + "/sub/c.jpeg",
                                         dir_ + "/sub/deeper/d.png", dir_ + "/z.Png"};
  EXPECT_EQ(got, want);
  EXPECT_EQ(ListImages(dir_ + "/./"), want);  // normalised
}

TEST_F(ImageListTest, ListFileKeepsLineOrderAndDuplicates) {
  Touch(dir_ + "/list.txt",
        "\xEF\xBB\xBF# header after a BOM\n"
        "b.png\n"
        "  ./b.png\t\r\n"
        "\n"
        "sub/../a.png\n"
        "missing.png\n"
        "/abs/path/x.jpg\n");
  const ImageListing got = ListImageInputs(dir_ + "/list.txt");
  EXPECT_EQ(got.images, (std::vector<std::string>{dir_ + "/b.png", dir_ + "/b.png", dir_ + "/a.png", dir_ + "/missing.png",
                                                  "/abs/path/x.jpg"}));
  EXPECT_EQ(got.duplicates, 1);
  Touch(dir_ + "/bom.txt", "\xEF\xBB\xBF" "first.png\n");
  EXPECT_EQ(ListImages(dir_ + "/bom.txt"), std::vector<std::string>{dir_ + "/first.png"});
}

// The kind of an --images file comes from its bytes: an image without an image extension (or a
// WebP) is one image, never a list; a binary non-image is refused rather than read as paths.
TEST_F(ImageListTest, KindsComeFromContent) {
  Touch(dir_ + "/photo", std::string("\xFF\xD8\xFF\xE0garbage\n\nmore\n", 17));
  EXPECT_EQ(ListImages(dir_ + "/photo"), std::vector<std::string>{dir_ + "/photo"});
  Touch(dir_ + "/photo.webp", std::string("RIFF\0\0\0\0WEBPVP8 \n\nx\n", 19));
  EXPECT_EQ(ListImages(dir_ + "/photo.webp"), std::vector<std::string>{dir_ + "/photo.webp"});
  Touch(dir_ + "/blob.bin", std::string("\x01\x02\0\x03\n", 5));
  try {
    ListImages(dir_ + "/blob.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NUL byte"), std::string::npos) << e.what();
  }
}

// Directory mode: images by content or name get records (unsupported formats included); the
// rest, and unreadable subdirectories, are reported in `skipped`, never dropped silently.
TEST_F(ImageListTest, DirectoryReportsWhatItSkips) {
  Touch(dir_ + "/a.webp", std::string("RIFF\0\0\0\0WEBPVP8 ", 16));
  Touch(dir_ + "/b.gif", "GIF89a....");
  Touch(dir_ + "/c_noext", std::string("\xFF\xD8\xFF\xE0", 4));
  Touch(dir_ + "/d.heic", std::string("\0\0\0\x18" "ftypheic", 12));
  Touch(dir_ + "/notes.txt", "hello");
  Touch(dir_ + "/locked/e.png", "x");
  fs::permissions(dir_ + "/locked", fs::perms::none);
  const bool can_lock = ::access((dir_ + "/locked").c_str(), R_OK) != 0;  // root reads anyway
  const ImageListing got = ListImageInputs(dir_);
  fs::permissions(dir_ + "/locked", fs::perms::owner_all);
  std::vector<std::string> want = {dir_ + "/a.webp", dir_ + "/b.gif", dir_ + "/c_noext", dir_ + "/d.heic"};
  if (!can_lock) want.push_back(dir_ + "/locked/e.png");
  EXPECT_EQ(got.images, want);
  ASSERT_EQ(got.skipped.size(), can_lock ? 2u : 1u);
  EXPECT_EQ(got.skipped[0], dir_ + "/notes.txt: not an image (by content or name)");
  if (can_lock) EXPECT_NE(got.skipped[1].find(dir_ + "/locked: cannot read the directory"), std::string::npos);
}

TEST_F(ImageListTest, SingleImageAndErrors) {
  Touch(dir_ + "/one.png");
  EXPECT_EQ(ListImages(dir_ + "/one.png"), std::vector<std::string>{dir_ + "/one.png"});
  EXPECT_THROW(ListImages(dir_ + "/nope"), Error);
  Touch(dir_ + "/empty/list.txt", "# nothing\n\n");
  try {
    ListImages(dir_ + "/empty/list.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the list file names no images"), std::string::npos);
  }
  fs::create_directories(dir_ + "/nothing");
  Touch(dir_ + "/nothing/readme.txt");
  EXPECT_THROW(ListImages(dir_ + "/nothing"), Error);
}

TEST(ImageList, HashDependsOnEveryPathAndTheOrder) {
  const std::string h = ImageListHash({"a", "b"});
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(h, ImageListHash({"a", "b"}));
  EXPECT_NE(h, ImageListHash({"b", "a"}));
  EXPECT_NE(h, ImageListHash({"a", "c"}));
  EXPECT_NE(h, ImageListHash({"ab"}));
  EXPECT_NE(ImageListHash({"a\nb"}), ImageListHash({"a", "b"}));  // the count is hashed too
}

// ---- Prefetcher --------------------------------------------------------------------------

std::vector<PrefetchJob> Jobs(int n, const std::string& bad_dir) {
  const std::vector<std::string> good = {"rgb_37x23.png", "rgb_100x75.png", "grey_29x31_q90.jpg", "palette_37x23.png"};
  std::vector<PrefetchJob> jobs;
  for (int i = 0; i < n; ++i) {
    const std::string path = i % 5 == 4 ? bad_dir + "/missing_" + std::to_string(i) + ".png" : kImages + "/" + good[i % 4];
    jobs.push_back(PrefetchJob{100 + i, path});
  }
  return jobs;
}

TEST(ImagePrefetcher, DeliversInOrderWithErrorsAsItems) {
  PrefetchOptions o;
  o.threads = 3;
  o.capacity = 4;
  o.image_size = 16;
  const std::vector<PrefetchJob> jobs = Jobs(23, "/nonexistent");
  ImagePrefetcher pf(jobs, o);
  std::vector<PreparedImage> got;
  while (!pf.exhausted()) {
    std::vector<PreparedImage> part = pf.Take(5, /*block=*/true);
    ASSERT_FALSE(part.empty());
    EXPECT_LE(part.size(), 5u);
    for (auto& p : part) got.push_back(std::move(p));
  }
  ASSERT_EQ(got.size(), jobs.size());
  EXPECT_TRUE(pf.Take(3, true).empty());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, jobs[i].index);
    EXPECT_EQ(got[i].path, jobs[i].path);
    const PreparedImage want = PrepareImage(jobs[i], o);  // same as decoding inline
    EXPECT_EQ(got[i].ok, want.ok);
    EXPECT_EQ(got[i].error, want.error);
    EXPECT_EQ(got[i].pixels, want.pixels);
    if (i % 5 == 4) {
      EXPECT_FALSE(got[i].ok);
      EXPECT_NE(got[i].error.find("image '" + jobs[i].path + "': cannot open"), std::string::npos) << got[i].error;
      EXPECT_TRUE(got[i].pixels.empty());
    } else {
      EXPECT_TRUE(got[i].ok) << got[i].error;
      EXPECT_EQ(got[i].pixels.size(), 16u * 16 * 3);
      EXPECT_GT(got[i].width, 0);
    }
  }
  EXPECT_EQ(got[1].width, 100);
  EXPECT_EQ(got[1].height, 75);
}

TEST(ImagePrefetcher, NonBlockingTakeReturnsOnlyReadyImagesAndCapacityBoundsTheQueue) {
  PrefetchOptions o;
  o.threads = 2;
  o.capacity = 3;
  o.image_size = 8;
  ImagePrefetcher pf(Jobs(10, "/nonexistent"), o);
  std::vector<PreparedImage> first = pf.Take(1, true);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].index, 100);
  // The workers may decode only `capacity` images beyond those taken: after a pause, exactly
  // images 1..3 are ready, and a non-blocking take returns them without waiting for more.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<PreparedImage> ready = pf.Take(10, /*block=*/false);
  ASSERT_EQ(ready.size(), 3u);
  for (size_t i = 0; i < ready.size(); ++i) EXPECT_EQ(ready[i].index, 101 + static_cast<int64_t>(i));
  // Destroying with jobs left stops the workers without hanging.
}

TEST(ImagePrefetcher, TooManyPixelsIsAnErrorItem) {
  PrefetchOptions o;
  o.image_size = 8;
  o.decode.max_pixels = 100;  // rgb_37x23 has 851
  const PreparedImage p = PrepareImage(PrefetchJob{0, kImages + "/rgb_37x23.png"}, o);
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("rgb_37x23.png"), std::string::npos) << p.error;
}

// ---- Embedded defaults -------------------------------------------------------------------

TEST(PgHome, EnvironmentWinsElseTwoLevelsAboveTheExecutableElseTheSourceTree) {
  EXPECT_EQ(ResolvePgHome("/opt/pg", "/repo/build/paligemma"), "/opt/pg");
  EXPECT_EQ(ResolvePgHome("", "/repo/build/paligemma"), "/repo");
  EXPECT_EQ(ResolvePgHome(nullptr, "/repo/build-x/paligemma"), "/repo");
  EXPECT_EQ(ResolvePgHome(nullptr, ""), ".");
  const DemoDefaults d = DemoDefaultsFor("/repo");
  EXPECT_EQ(d.model, "/repo/build/demo_model.h5");
  EXPECT_EQ(d.tokenizer, "/repo/assets/tokenizer/tiny.model");
  EXPECT_EQ(d.images, "/repo/assets/images");
  EXPECT_EQ(d.output, "out/captions.jsonl");
  // An out-of-tree build (/tmp/x/b/paligemma, no /tmp/x/assets) falls back to the source tree;
  // a build inside a checkout keeps the checkout.
  const fs::path t = fs::temp_directory_path() / ("pg_home_" + std::to_string(::getpid()));
  fs::create_directories(t / "src" / "assets");
  fs::create_directories(t / "out" / "b");
  fs::create_directories(t / "repo" / "assets");
  EXPECT_EQ(ResolvePgHome(nullptr, (t / "out/b/paligemma").string(), (t / "src").string()), (t / "src").string());
  EXPECT_EQ(ResolvePgHome(nullptr, (t / "repo/build/paligemma").string(), (t / "src").string()), (t / "repo").string());
  EXPECT_EQ(ResolvePgHome(nullptr, (t / "out/b/paligemma").string(), (t / "none").string()), (t / "out").string());
  fs::remove_all(t);
  // This test binary is BUILD/tests/caption_inputs_test: two levels up is BUILD (no assets/),
  // so PgHome() is the source tree.
  ::unsetenv("PG_HOME");
  EXPECT_EQ(fs::canonical(PgHome()), fs::canonical(PG_SOURCE_DIR));
}

}  // namespace
}  // namespace pg
