// The caption job's durable state: manifest (caption_job/manifest.h) and part files, torn-line
// repair, merge and lock (caption_job/part_files.h).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "caption_job/caption_record.h"
#include "caption_job/durable_io.h"
#include "caption_job/manifest.h"
#include "caption_job/part_files.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

std::string TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "caption_state_XXXXXX").string();
  PG_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
  return tmpl;
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string Record(const std::vector<std::string>& images, int i) {
  CaptionResult r;
  r.image = images[i];
  r.index = i;
  r.text = "caption " + std::to_string(i);
  r.tokens = 2;
  r.hit_eos = true;
  return OkRecordLine(r);
}

class CaptionState : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    images_ = {"a.png", "b.jpg", "c/d.png", "e.png", "f.png"};
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
  std::vector<std::string> images_;
};

// ---- Manifest ---------------------------------------------------------------------------

CaptionJobSpec MakeSpec(const std::string& dir) {
  CaptionJobSpec s;
  s.model_path = dir + "/model.h5";
  s.tokenizer_path = dir + "/tok.model";
  WriteText(s.model_path, "model bytes");
  WriteText(s.tokenizer_path, "tokenizer bytes");
  s.model_config_json = "{\"name\":\"tiny\"}";
  s.model_dtype = "f32";
  s.prompt = "caption en";
  s.max_new_tokens = 16;
  s.resize = "bilinear";
  s.backend = "cpu";
  s.max_image_pixels = 1000;
  s.images = {"x.png", "y.png"};
  return s;
}

TEST_F(CaptionState, ManifestWrittenThenAcceptedThenRefusedNamingTheField) {
  const CaptionJobSpec spec = MakeSpec(dir_);
  const std::string path = dir_ + "/manifest.json";
  EXPECT_FALSE(CheckOrWriteManifest(path, BuildManifest(spec)));  // written
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(CheckOrWriteManifest(path, BuildManifest(spec)));   // same job: resume

  CaptionJobSpec other = spec;
  other.prompt = "caption es";
  other.sampling.seed = 7;
  try {
    CheckOrWriteManifest(path, BuildManifest(other));
    FAIL() << "a different prompt was accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("manifest '" + path + "' was written for a different job (2 fields differ)"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("prompt: recorded \"caption en\", now \"caption es\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("sampling.seed: recorded \"0\", now \"7\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("--restart"), std::string::npos) << msg;
  }
}

TEST_F(CaptionState, ManifestFingerprintsEveryInput) {
  const CaptionJobSpec spec = MakeSpec(dir_);
  const Manifest base = BuildManifest(spec);
  auto diff_of = [&](CaptionJobSpec s) {
    const std::vector<std::string> d = DiffManifests(base, BuildManifest(s));
    return d.size() == 1 ? d[0].substr(0, d[0].find(':')) : "(" + std::to_string(d.size()) + " diffs)";
  };
  CaptionJobSpec s = spec;
  s.max_new_tokens = 17;
  EXPECT_EQ(diff_of(s), "max_new_tokens");
  s = spec;
  s.sampling.temperature = 0.5f;
  EXPECT_EQ(diff_of(s), "sampling.temperature");
  s = spec;
  s.sampling.top_k = 3;
  EXPECT_EQ(diff_of(s), "sampling.top_k");
  s = spec;
  s.sampling.top_p = 0.9f;
  EXPECT_EQ(diff_of(s), "sampling.top_p");
  s = spec;
  s.resize = "bicubic";
  EXPECT_EQ(diff_of(s), "resize");
  s = spec;
  s.backend = "cuda";
  EXPECT_EQ(diff_of(s), "backend");
  s = spec;
  s.model_dtype = "bf16";
  EXPECT_EQ(diff_of(s), "model.dtype");
  s = spec;
  s.model_config_json = "{\"name\":\"other\"}";
  EXPECT_EQ(diff_of(s), "model.config_hash");
  s = spec;
  s.max_image_pixels = 5;
  EXPECT_EQ(diff_of(s), "max_image_pixels");
  s = spec;
  s.exif_transpose = true;
  EXPECT_EQ(diff_of(s), "exif_transpose");
  s = spec;
  s.images = {"x.png", "z.png"};  // same count, other list
  EXPECT_EQ(diff_of(s), "images.hash");
  // The tokenizer by content, whatever its mtime.
  WriteText(spec.tokenizer_path, "other tokenizer bytes");
  EXPECT_EQ(diff_of(spec), "tokenizer.hash");
  WriteText(spec.tokenizer_path, "tokenizer bytes");
  // The model by path, size and mtime.
  WriteText(spec.model_path, "model bytes, retrained");
  const std::vector<std::string> d = DiffManifests(base, BuildManifest(spec));
  ASSERT_GE(d.size(), 1u);
  EXPECT_EQ(d[0].substr(0, d[0].find(':')), "model.size");
}

TEST_F(CaptionState, ManifestRoundTripsAndRejectsGarbage) {
  Manifest m;
  m.Set("prompt", "caption \"en\"\n");
  m.Set("images.count", "3");
  const Manifest back = Manifest::FromJsonText(m.ToJsonText(), "mem");
  EXPECT_TRUE(DiffManifests(m, back).empty());
  EXPECT_THROW(Manifest::FromJsonText("{\"a\": 1}", "m.json"), Error);
  EXPECT_THROW(Manifest::FromJsonText("{not json", "m.json"), Error);
  EXPECT_THROW(BuildManifest([&] {
                 CaptionJobSpec s = MakeSpec(dir_);
                 s.model_path = dir_ + "/missing.h5";
                 return s;
               }()),
               Error);
}

// ---- Part files -------------------------------------------------------------------------

TEST_F(CaptionState, RepairTornTailCutsAfterTheLastNewline) {
  const std::string p = dir_ + "/part-0.jsonl";
  WriteText(p, "{\"a\":1}\n{\"b\":2}\n{\"c\":");
  EXPECT_EQ(RepairTornTail(p), 5);
  EXPECT_EQ(ReadWholeFile(p), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(RepairTornTail(p), 0);  // nothing more to cut
  WriteText(p, "{\"only\":\"torn\"}");  // a complete object without its newline is still torn
  EXPECT_EQ(RepairTornTail(p), 15);
  EXPECT_EQ(ReadWholeFile(p), "");
}

TEST_F(CaptionState, ScanFindsRecordsInAnyPartFileAndRepairs) {
  WriteText(PartFilePath(dir_, 0), Record(images_, 3) + "\n" + Record(images_, 0) + "\n{\"image\":\"f.p");
  WriteText(PartFilePath(dir_, 5), Record(images_, 1) + "\n" + Record(images_, 3) + "\n");  // old, wider layout
  WriteText(dir_ + "/part-x.jsonl", "ignored: not a part file name\n");
  WriteText(dir_ + "/manifest.json", "{}");
  const PartScan s = ScanPartFiles(dir_, images_, /*repair=*/true);
  EXPECT_EQ(s.done, (std::vector<uint8_t>{1, 1, 0, 1, 0}));
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.duplicates, 1);
  EXPECT_EQ(s.repaired_files, 1);
  EXPECT_EQ(s.repaired_bytes, 13);
  EXPECT_EQ(ListPartFiles(dir_), (std::vector<std::string>{PartFilePath(dir_, 0), PartFilePath(dir_, 5)}));
}

TEST_F(CaptionState, ScanRejectsRecordsOfAnotherList) {
  WriteText(PartFilePath(dir_, 0), Record(images_, 0) + "\n" + Record({"a.png", "zzz.png"}, 1) + "\n");
  try {
    ScanPartFiles(dir_, images_, true);
    FAIL() << "a record for another list was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(PartFilePath(dir_, 0) + ":2: record 1 is for image 'zzz.png'"),
              std::string::npos)
        << e.what();
  }
  WriteText(PartFilePath(dir_, 0), "not json\n");
  EXPECT_THROW(ScanPartFiles(dir_, images_, true), Error);
}

TEST_F(CaptionState, WriterAppendsWholeLines) {
  const std::string p = PartFilePath(dir_, 1);
  {
    PartWriter w(p);
    w.Commit({Record(images_, 2)});
    w.Commit({});
  }
  PartWriter w(p);  // reopening appends
  w.Commit({Record(images_, 4), ErrorRecordLine("e.png", 3, "image 'e.png': truncated")});
  EXPECT_EQ(ReadWholeFile(p), Record(images_, 2) + "\n" + Record(images_, 4) + "\n" +
                                  ErrorRecordLine("e.png", 3, "image 'e.png': truncated") + "\n");
  EXPECT_THROW(w.Commit({"two\nlines"}), Error);
}

TEST_F(CaptionState, MergeWritesOneRecordPerImageInInputOrder) {
  WriteText(PartFilePath(dir_, 0), Record(images_, 4) + "\n" + Record(images_, 1) + "\n");
  const std::string first_three = ErrorRecordLine(images_[3], 3, "first");
  WriteText(PartFilePath(dir_, 1), Record(images_, 0) + "\n" + first_three + "\n" + Record(images_, 2) + "\n");
  WriteText(PartFilePath(dir_, 2), ErrorRecordLine(images_[3], 3, "duplicate, ignored") + "\n");
  const std::string out = dir_ + "/out.jsonl";
  const MergeStats m = MergePartFiles(dir_, images_, out);
  EXPECT_EQ(m.records, 5);
  EXPECT_EQ(m.errors, 1);
  EXPECT_EQ(ReadWholeFile(out), Record(images_, 0) + "\n" + Record(images_, 1) + "\n" + Record(images_, 2) + "\n" +
                                    first_three + "\n" + Record(images_, 4) + "\n");
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST_F(CaptionState, MergeRefusesAMissingImageAndLeavesTheOutput) {
  WriteText(PartFilePath(dir_, 0), Record(images_, 0) + "\n" + Record(images_, 1) + "\n");
  const std::string out = dir_ + "/out.jsonl";
  WriteText(out, "previous output\n");
  try {
    MergePartFiles(dir_, images_, out);
    FAIL() << "merged with images missing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("image 2 'c/d.png' has no record"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ReadWholeFile(out), "previous output\n");
}

TEST_F(CaptionState, LockIsExclusive) {
  {
    PartsDirLock first(dir_);
    try {
      PartsDirLock second(dir_);
      FAIL() << "two locks on one parts directory";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("another caption job is writing '" + dir_ + "'"), std::string::npos);
    }
  }
  PartsDirLock again(dir_);  // released with the first
}

TEST_F(CaptionState, AtomicWriteReplaces) {
  const std::string p = dir_ + "/f.txt";
  WriteFileAtomically(p, "one");
  WriteFileAtomically(p, "two");
  EXPECT_EQ(ReadWholeFile(p), "two");
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  EXPECT_THROW(WriteFileAtomically(dir_ + "/no/such/dir/f", "x"), Error);
}

}  // namespace
}  // namespace pg
