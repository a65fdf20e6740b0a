#include "dist/abort.h"

#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace pg {
namespace {

std::atomic<bool> g_fatal_printed{false};
std::atomic<bool> g_aborting{false};
std::atomic<bool> g_watchdog_started{false};

bool MpiUsable() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

[[noreturn]] void BlockForever() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace

int WorldRankForLogs() {
  if (!MpiUsable()) return -1;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int WorldSizeForLogs() {
  if (!MpiUsable()) return -1;
  int size = -1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

std::string RankTag() {
  const int rank = WorldRankForLogs();
  return "[rank " + (rank >= 0 ? std::to_string(rank) : std::string("?")) + "]";
}

void WriteStderrLine(const std::string& line) {
  std::string text = line + "\n";
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;  // nothing sensible to do if stderr is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

double AbortGraceSeconds() {
  const char* env = std::getenv("PG_ABORT_GRACE_S");
  if (env == nullptr || *env == '\0') return 5.0;
  char* end = nullptr;
  const double value = std::strtod(env, &end);
  // A bad value must not stop us from aborting: fall back to the default.
  if (end == env || *end != '\0' || !(value > 0)) return 5.0;
  return value;
}

void StartHardExitWatchdog(double grace_s, int code) {
  if (g_watchdog_started.exchange(true)) return;
  const std::string tag = RankTag();
  std::thread([grace_s, code, tag] {
    std::this_thread::sleep_for(std::chrono::duration<double>(grace_s));
    WriteStderrLine(tag + " MPI_Abort did not end the process within " + std::to_string(grace_s) +
                    " s; exiting with _exit(" + std::to_string(code) + ")");
    ::_exit(code);
  }).detach();
}

void HardAbort(int code) {
  // Only the first caller aborts; a second thread waits for the process to end.
  if (g_aborting.exchange(true)) {
    StartHardExitWatchdog(AbortGraceSeconds(), code);
    BlockForever();
  }
  if (!MpiUsable()) ::_exit(code);
  StartHardExitWatchdog(AbortGraceSeconds(), code);
  const char* hang = std::getenv("PG_DEBUG_MPI_ABORT_HANGS");
  if (hang != nullptr && std::string(hang) == "1") {
    WriteStderrLine(RankTag() + " debug: PG_DEBUG_MPI_ABORT_HANGS=1, not calling MPI_Abort");
    BlockForever();
  }
  MPI_Abort(MPI_COMM_WORLD, code);
  BlockForever();  // MPI_Abort should not return; the watchdog ends us if it does.
}

void PrintFatalOnce(const std::string& reason) {
  if (g_fatal_printed.exchange(true)) return;
  const int rank = WorldRankForLogs(), size = WorldSizeForLogs();
  WriteStderrLine("[rank " + (rank >= 0 ? std::to_string(rank) : std::string("?")) + "/world " +
                  (size >= 0 ? std::to_string(size) : std::string("?")) + "] fatal: " + reason);
}

void AbortJob(const std::string& reason) {
  PrintFatalOnce(reason);
  HardAbort(1);
}

}  // namespace pg
