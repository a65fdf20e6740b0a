// paligemma: one binary, several subcommands (convert, generate, caption, bench, inspect, load).
// Runs under mpirun; a failure on any rank brings the whole job down (dist/run_main.h).
#include <cstdio>

#include "dist/run_main.h"
#include "launch/commands.h"

namespace {

int RunCli(int argc, char** argv) {
  CLI::App app{"paligemma: tensor-parallel PaliGemma inference (CPU fp32 / bf16, CUDA bf16) under mpirun"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("paligemma-tp ") + PG_VERSION);
  app.option_defaults()->always_capture_default();  // --help shows every option's default
  pg::RegisterConvertCommand(app);
  pg::RegisterInspectCommand(app);
  pg::RegisterGenerateCommand(app);
  pg::RegisterCaptionCommand(app);
  pg::RegisterBenchCommand(app);
  pg::RegisterLoadCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return pg::RunMpiMain(argc, argv, RunCli); }
