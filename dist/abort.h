// Ending the whole MPI job from one rank, reliably and within seconds (STYLE rule 10).
//
//   AbortJob(reason): prints "[rank R/world W] fatal: reason" once per process, then HardAbort.
//   HardAbort(code):  starts a watchdog thread that calls _exit(code) if MPI_Abort has not ended
//                     the process within AbortGraceSeconds() (env PG_ABORT_GRACE_S, default 5),
//                     then calls MPI_Abort(MPI_COMM_WORLD, code). Without MPI it _exit()s at once.
//
// Debug hook for tests: PG_DEBUG_MPI_ABORT_HANGS=1 makes HardAbort block instead of calling
// MPI_Abort, so the second stage (the watchdog's _exit) can be exercised.
#pragma once

#include <string>

namespace pg {

// MPI_COMM_WORLD rank and size, or -1 when MPI is not initialised (or already finalised).
int WorldRankForLogs();
int WorldSizeForLogs();
// "[rank R]" ("[rank ?]" without MPI).
std::string RankTag();

// Writes `line` plus a newline to stderr with a single write(2), so lines from several
// threads or ranks do not interleave.
void WriteStderrLine(const std::string& line);

double AbortGraceSeconds();
// Starts (once per process) a detached thread that _exit(code)s after `grace_s` seconds.
void StartHardExitWatchdog(double grace_s, int code = 1);

// Prints "[rank R/world W] fatal: reason" unless a fatal line was already printed.
void PrintFatalOnce(const std::string& reason);

[[noreturn]] void HardAbort(int code = 1);
[[noreturn]] void AbortJob(const std::string& reason);

}  // namespace pg
