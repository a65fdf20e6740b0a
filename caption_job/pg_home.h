// Where the project's own files are, for commands that have built-in defaults (the embedded
// demo of `paligemma caption`).
//
//   PG_HOME    environment variable: the repository root, if set and not empty;
//   otherwise  two directories above the running executable (/proc/self/exe), i.e. the repo
//              root for build/paligemma or build-x/paligemma, if it has an assets/ folder;
//   else       the source tree the build was configured from (an out-of-tree build such as
//              /tmp/b/paligemma), if it has assets/; else two directories above the executable.
#pragma once

#include <string>

namespace pg {

// `env_value` (PG_HOME, may be null/empty) and `exe_path` (/proc/self/exe resolved) -> home.
// `source_tree`: the configured checkout (PG_SOURCE_TREE), may be empty.
std::string ResolvePgHome(const char* env_value, const std::string& exe_path, const std::string& source_tree = "");
// ResolvePgHome(getenv("PG_HOME"), readlink("/proc/self/exe")).
std::string PgHome();

struct DemoDefaults {
  std::string model;      // PG_HOME/build/demo_model.h5 (scripts/demo.sh converts assets/demo_model)
  std::string tokenizer;  // PG_HOME/assets/tokenizer/tiny.model
  std::string images;     // PG_HOME/assets/images
  std::string output;     // ./out/captions.jsonl (relative to the working directory)
};
DemoDefaults DemoDefaultsFor(const std::string& home);

}  // namespace pg
