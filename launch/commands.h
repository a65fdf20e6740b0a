// Subcommands of the one `paligemma` binary. Each launch/<name>_cmd.cc defines one
// Register<Name>Command that adds a CLI11 subcommand and its callback.
// Callbacks throw pg::Error on failure; main() prints it once and aborts the MPI job.
#pragma once

#include <CLI/CLI.hpp>

#include "runtime/check.h"

namespace pg {

// Runs the flag checks a callback makes before any work (every rank parses the same argv, so
// every rank fails alike): a pg::Error becomes a CLI11 usage error, which main() prints once
// with "Run with --help" and exit code 106, without aborting the MPI job.
template <class F>
void CheckFlags(F&& checks) {
  try {
    checks();
  } catch (const Error& e) {
    throw CLI::ValidationError(e.what());
  }
}

void RegisterConvertCommand(CLI::App& app);
void RegisterGenerateCommand(CLI::App& app);
void RegisterCaptionCommand(CLI::App& app);
void RegisterBenchCommand(CLI::App& app);
void RegisterInspectCommand(CLI::App& app);
void RegisterLoadCommand(CLI::App& app);

}  // namespace pg
