#include "caption_job/part_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <nlohmann/json.hpp>

#include "caption_job/durable_io.h"
#include "caption_job/json_text.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

// "part-12.jsonl" -> 12, anything else -> -1.
int PartNumber(const std::string& name) {
  const std::string prefix = "part-", suffix = ".jsonl";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoi(digits);
}

// Calls fn(line, line_number) for every '\n'-terminated line of `text`.
template <typename Fn>
void ForEachLine(const std::string& text, Fn fn) {
  size_t start = 0;
  int64_t number = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    fn(text.substr(start, nl - start), ++number);
}

// Checks that the record names the image the input list has at its index.
void CheckAgainstList(const RecordInfo& r, const std::vector<std::string>& images, const std::string& where) {
  PG_CHECK(r.index >= 0 && r.index < static_cast<int64_t>(images.size()),
           where << ": record index " << r.index << " is outside the input list of " << images.size() << " images");
  PG_CHECK(images[r.index] == r.image || JsonSafeText(images[r.index]) == r.image, where << ": record " << r.index << " is for image '" << r.image
                                             << "' but the input list has '" << images[r.index]
                                             << "' there; the parts directory belongs to another image list");
}

}  // namespace

std::string PartsDirFor(const std::string& output) {
  return output == "-" ? std::string(kStdoutPartsDir) : output + ".parts";
}

std::string PartFilePath(const std::string& dir, int dp_rank) {
  return (fs::path(dir) / ("part-" + std::to_string(dp_rank) + ".jsonl")).string();
}

std::vector<std::string> ListPartFiles(const std::string& dir) {
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const int n = PartNumber(e.path().filename().string());
    if (n >= 0 && e.is_regular_file(ec)) found.emplace_back(n, e.path().string());
  }
  PG_CHECK(!ec, "cannot list '" << dir << "': " << ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

int64_t RepairTornTail(const std::string& path) {
  const std::string text = ReadWholeFile(path);
  const size_t nl = text.rfind('\n');
  const size_t keep = nl == std::string::npos ? 0 : nl + 1;
  if (keep == text.size()) return 0;
  PG_CHECK(::truncate(path.c_str(), static_cast<off_t>(keep)) == 0,
           "cannot truncate the torn last line of '" << path << "': " << std::strerror(errno));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return static_cast<int64_t>(text.size() - keep);
}

RecordInfo ParseRecordLine(const std::string& line, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    PG_THROW(where << ": not a JSON record (" << e.what() << "); the part file was edited or damaged");
  }
  PG_CHECK(j.is_object() && j.contains("image") && j["image"].is_string() && j.contains("index") &&
               j["index"].is_number_integer() && j.contains("status") && j["status"].is_string(),
           where << ": a record needs string \"image\", integer \"index\" and string \"status\"");
  RecordInfo r;
  r.index = j["index"].get<int64_t>();
  r.image = j["image"].get<std::string>();
  r.ok = j["status"].get<std::string>() == "ok";
  if (j.contains("tokens") && j["tokens"].is_number_integer()) r.tokens = j["tokens"].get<int64_t>();
  return r;
}

PartScan ScanPartFiles(const std::string& dir, const std::vector<std::string>& images, bool repair) {
  PartScan scan;
  scan.done.assign(images.size(), 0);
  for (const std::string& path : ListPartFiles(dir)) {
    if (repair) {
      const int64_t dropped = RepairTornTail(path);
      scan.repaired_bytes += dropped;
      scan.repaired_files += dropped > 0;
    }
    ForEachLine(ReadWholeFile(path), [&](const std::string& line, int64_t number) {
      const std::string where = path + ":" + std::to_string(number);
      const RecordInfo r = ParseRecordLine(line, where);
      CheckAgainstList(r, images, where);
      if (scan.done[r.index]) {
        ++scan.duplicates;
      } else {
        scan.done[r.index] = 1;
        ++scan.records;
      }
    });
  }
  return scan;
}

PartWriter::PartWriter(const std::string& path) : path_(path) {
  struct stat st;
  const bool existed = ::stat(path.c_str(), &st) == 0;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  PG_CHECK(fd_ >= 0, "cannot open the part file '" << path << "' for appending: " << std::strerror(errno));
  if (!existed) FsyncDirectoryOf(path);
}

PartWriter::~PartWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void PartWriter::Commit(const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  std::string buf;
  for (const std::string& l : lines) {
    PG_CHECK(l.find('\n') == std::string::npos, "part file '" << path_ << "': a record contains a newline");
    buf += l;
    buf += '\n';
  }
  WriteAll(fd_, buf.data(), buf.size(), path_);
  SyncFile(fd_, path_);
}

PartsDirLock::PartsDirLock(const std::string& dir)
    : FileLock((fs::path(dir) / "lock").string(), "another caption job is writing '" + dir + "'",
               "wait for it or choose another --output") {}

MergeStats MergePartFiles(const std::string& dir, const std::vector<std::string>& images, const std::string& output) {
  std::vector<std::string> lines(images.size());
  std::vector<uint8_t> ok(images.size(), 0);
  for (const std::string& path : ListPartFiles(dir)) {
    ForEachLine(ReadWholeFile(path), [&](const std::string& line, int64_t number) {
      const std::string where = path + ":" + std::to_string(number);
      const RecordInfo r = ParseRecordLine(line, where);
      CheckAgainstList(r, images, where);
      if (lines[r.index].empty()) {
        lines[r.index] = line;
        ok[r.index] = r.ok;
      }
    });
  }
  MergeStats stats;
  for (size_t i = 0; i < images.size(); ++i) {
    PG_CHECK(!lines[i].empty(), "merge: image " << i << " '" << images[i] << "' has no record in " << dir
                                                << "; rerun the same command to caption it");
    ++stats.records;
    stats.errors += !ok[i];
  }
  auto write_lines = [&](int fd, const std::string& name) {
    std::string buf;  // written in ~1 MiB pieces: the merged file is never held whole
    for (size_t i = 0; i < lines.size(); ++i) {
      buf += lines[i];
      buf += '\n';
      if (buf.size() >= (1u << 20) || i + 1 == lines.size()) {
        WriteAll(fd, buf.data(), buf.size(), name);
        buf.clear();
      }
    }
  };
  if (output == "-") {
    write_lines(STDOUT_FILENO, "standard output");
  } else {
    WriteFileAtomically(output, write_lines);
  }
  return stats;
}

}  // namespace pg
