#include "caption_job/progress.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "dist/abort.h"
#include "caption_job/part_files.h"
#include "runtime/check.h"

namespace pg {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// Bytes [offset, end) of `path` (empty if it cannot be read right now).
std::string ReadFrom(const std::string& path, int64_t offset) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof(buf), offset + static_cast<int64_t>(out.size()));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int64_t FileSize(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const off_t end = ::lseek(fd, 0, SEEK_END);
  ::close(fd);
  return end < 0 ? 0 : static_cast<int64_t>(end);
}

}  // namespace

ProgressMode ParseProgressMode(const std::string& name) {
  if (name == "auto") return ProgressMode::kAuto;
  if (name == "bar") return ProgressMode::kBar;
  if (name == "lines") return ProgressMode::kLines;
  if (name == "off") return ProgressMode::kOff;
  PG_THROW("--progress must be auto, bar, lines or off; got '" << name << "'");
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

namespace {

struct Rates {
  double images_per_s = 0, tokens_per_s = 0, eta_s = NAN;
  int64_t done = 0;
};

Rates ComputeRates(const ProgressSnapshot& s) {
  Rates r;
  r.done = s.done_before + s.done_now;
  if (s.elapsed_s > 0) {
    r.images_per_s = s.done_now / s.elapsed_s;
    r.tokens_per_s = s.tokens / s.elapsed_s;
  }
  const int64_t left = s.total - r.done;
  if (left <= 0) {
    r.eta_s = 0;
  } else if (r.images_per_s > 0) {
    r.eta_s = left / r.images_per_s;
  }
  return r;
}

}  // namespace

std::string FormatProgressLine(const ProgressSnapshot& s) {
  const Rates r = ComputeRates(s);
  std::ostringstream os;
  os << "caption: " << r.done << "/" << s.total << " images ("
     << Fixed(s.total > 0 ? 100.0 * r.done / s.total : 100.0, 1) << "%), " << Fixed(r.images_per_s, 1)
     << " images/s, " << Fixed(r.tokens_per_s, 0) << " tokens/s, " << s.errors << " error"
     << (s.errors == 1 ? "" : "s") << ", ETA " << FormatDuration(r.eta_s);
  return os.str();
}

std::string FormatProgressBar(const ProgressSnapshot& s, int bar_width) {
  const Rates r = ComputeRates(s);
  const double frac = s.total > 0 ? static_cast<double>(r.done) / s.total : 1.0;
  const int filled = static_cast<int>(std::floor(frac * bar_width));
  std::ostringstream os;
  os << "[" << std::string(filled, '#') << std::string(bar_width - filled, '.') << "] " << r.done << "/"
     << s.total << " images  " << Fixed(r.images_per_s, 1) << " img/s  " << Fixed(r.tokens_per_s, 0)
     << " tok/s  " << s.errors << " err  ETA " << FormatDuration(r.eta_s);
  return os.str();
}

PartFileTail::PartFileTail(const std::string& dir) : dir_(dir) {
  for (const std::string& p : ListPartFiles(dir)) offsets_[p] = FileSize(p);
}

void PartFileTail::Poll(ProgressSnapshot* s) {
  for (const std::string& path : ListPartFiles(dir_)) {
    int64_t& offset = offsets_[path];  // a new file starts at 0
    const std::string fresh = ReadFrom(path, offset);
    size_t start = 0;
    for (size_t nl; (nl = fresh.find('\n', start)) != std::string::npos; start = nl + 1) {
      try {
        const RecordInfo r = ParseRecordLine(fresh.substr(start, nl - start), path);
        ++s->done_now;
        s->errors += !r.ok;
        s->tokens += r.tokens;
      } catch (const std::exception&) {
        // Progress only counts; the merge reports damaged lines.
      }
    }
    offset += static_cast<int64_t>(start);
  }
}

ProgressReporter::ProgressReporter(const std::string& parts_dir, int64_t total, int64_t done_before,
                                   ProgressMode mode, double interval_s)
    : tail_(parts_dir), mode_(mode), interval_s_(interval_s) {
  if (mode_ == ProgressMode::kAuto) mode_ = ::isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
  snap_.total = total;
  snap_.done_before = done_before;
}

ProgressReporter::~ProgressReporter() { Stop(); }

void ProgressReporter::Start() {
  start_ = last_line_ = Now();
  started_ = true;
  if (mode_ != ProgressMode::kOff) thread_ = std::thread([this] { Loop(); });
}

void ProgressReporter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stop_; })) {
    tail_.Poll(&snap_);
    snap_.elapsed_s = Now() - start_;
    if (mode_ == ProgressMode::kBar) {
      Emit(false);
    } else if (Now() - last_line_ >= interval_s_) {
      last_line_ = Now();
      Emit(false);
    }
  }
}

void ProgressReporter::Emit(bool final_line) {
  if (mode_ == ProgressMode::kBar) {
    const std::string line = "\r" + FormatProgressBar(snap_) + "\x1b[K" + (final_line ? "\n" : "");
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  } else if (mode_ == ProgressMode::kLines) {
    WriteStderrLine(FormatProgressLine(snap_));
  }
}

ProgressSnapshot ProgressReporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || !started_) return snap_;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  tail_.Poll(&snap_);
  snap_.elapsed_s = Now() - start_;
  Emit(true);
  return snap_;
}

}  // namespace pg
