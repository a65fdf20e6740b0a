// Runs a check in a forked child process, so that a crash inside a third-party parser (libhdf5
// 1.10 can crash on corrupt metadata: fuzz/README.md "Known libhdf5 crashes") becomes an error
// naming the input instead of killing the job.
//
//   RunInChild("checkpoint 'm.h5'", [&] { ValidateStructure(); });
//
// The child runs `check` and exits at once with _exit (no atexit handlers, no MPI, no HDF5
// flush): 0 if it returned, 1 with the message of the pg::Error it threw. The parent then
//   - returns if the child succeeded,
//   - throws pg::Error with the child's message if the check failed,
//   - throws pg::Error("<what>: the check crashed (signal N: <name>) ...") if the child died,
//   - kills the child and throws if it ran longer than `timeout_s`.
// Nothing the child changes (memory, handles) reaches the parent: run the check again in the
// parent to keep its results. PG_NO_CHILD_CHECKS=1 skips the child (the check then runs only
// where the caller runs it in-process, e.g. under a debugger).
#pragma once

#include <functional>
#include <string>

namespace pg {

void RunInChild(const std::string& what, const std::function<void()>& check, double timeout_s = 300.0);

}  // namespace pg
