// Subcommands of the one `paligemma` binary. Each launch/<name>_cmd.cc defines one
// Register<Name>Command that adds a CLI11 subcommand and its callback.
// Callbacks throw pg::Error on failure; main() prints it once and aborts the MPI job.
#pragma once

#include <CLI/CLI.hpp>

namespace pg {

void RegisterConvertCommand(CLI::App& app);
void RegisterGenerateCommand(CLI::App& app);
void RegisterCaptionCommand(CLI::App& app);
void RegisterBenchCommand(CLI::App& app);
void RegisterInspectCommand(CLI::App& app);
void RegisterLoadCommand(CLI::App& app);

}  // namespace pg
