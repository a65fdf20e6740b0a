// The caption job's durable state, next to the output OUT.jsonl:
//
//   OUT.jsonl.parts/manifest.json      what the records depend on (manifest.h)
//   OUT.jsonl.parts/lock               flock'ed by world rank 0 while a job runs
//   OUT.jsonl.parts/part-<dp>.jsonl    records appended by replica <dp>'s leader, one JSON
//                                      object per line, flushed + fsynced per engine step
//
// Part files only grow, by whole lines written with one write(2) each step; a crash can only
// leave a torn last line, which RepairTornTail cuts off (the images in it are redone). A
// restarted job skips every image that has a record in ANY part file, whatever the number of
// replicas that wrote it, and the merge writes OUT.jsonl with the first record of each image,
// in input order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caption_job/file_lock.h"

namespace pg {

// OUT + ".parts"; for --output - (records merged to standard output) ./caption-stdout.parts.
constexpr const char* kStdoutPartsDir = "caption-stdout.parts";
std::string PartsDirFor(const std::string& output);
std::string PartFilePath(const std::string& dir, int dp_rank);
// Every part-<N>.jsonl in `dir`, ordered by N (empty if `dir` does not exist).
std::vector<std::string> ListPartFiles(const std::string& dir);

// Cuts everything after the last '\n' (all of it if there is none). Returns the bytes dropped.
int64_t RepairTornTail(const std::string& path);

// The fields of a record line the job itself reads.
struct RecordInfo {
  int64_t index = -1;
  std::string image;
  bool ok = false;      // status == "ok"
  int64_t tokens = 0;
};
// Throws pg::Error naming `where` (file:line) for a line that is not a record.
RecordInfo ParseRecordLine(const std::string& line, const std::string& where);

struct PartScan {
  std::vector<uint8_t> done;  // [images]: 1 = the image has a record
  int64_t records = 0;        // images with a record
  int64_t duplicates = 0;     // further records of an image (ignored by the merge)
  int64_t repaired_files = 0;
  int64_t repaired_bytes = 0;
};
// Repairs torn tails first when `repair`. Every record must name images[index]; a record for
// another list (which the manifest should have caught) is an error naming file and line.
PartScan ScanPartFiles(const std::string& dir, const std::vector<std::string>& images, bool repair);

// Appends whole lines to one part file; each Commit is one write(2) followed by fsync.
class PartWriter {
 public:
  explicit PartWriter(const std::string& path);
  ~PartWriter();
  PartWriter(const PartWriter&) = delete;
  PartWriter& operator=(const PartWriter&) = delete;
  // lines: JSON records without the trailing '\n'.
  void Commit(const std::vector<std::string>& lines);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// An exclusive flock on dir/lock held for the object's lifetime, so that two jobs never write
// the same parts directory. Throws pg::Error if another process holds it.
class PartsDirLock : public FileLock {
 public:
  explicit PartsDirLock(const std::string& dir);
};

struct MergeStats {
  int64_t records = 0;
  int64_t errors = 0;  // records with status "error"
};
// Writes `output` atomically (output.tmp + fsync + rename) with exactly one record per image,
// the first found in part-file order, in the order of `images`. Throws naming the first image
// without a record if any is missing (the output is then left untouched).
MergeStats MergePartFiles(const std::string& dir, const std::vector<std::string>& images,
                          const std::string& output);

}  // namespace pg
