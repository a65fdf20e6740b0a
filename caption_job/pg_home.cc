#include "caption_job/pg_home.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace pg {

std::string ResolvePgHome(const char* env_value, const std::string& exe_path, const std::string& source_tree) {
  if (env_value != nullptr && env_value[0] != '\0') return env_value;
  const fs::path home = exe_path.empty() ? fs::path() : fs::path(exe_path).parent_path().parent_path();
  std::error_code ec;
  const bool home_has_assets = !home.empty() && fs::is_directory(home / "assets", ec);
  if (!home_has_assets && !source_tree.empty() && fs::is_directory(fs::path(source_tree) / "assets", ec))
    return source_tree;  // an out-of-tree build: the checkout it was configured from
  return home.empty() ? "." : home.string();
}

std::string PgHome() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  const std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
#ifdef PG_SOURCE_TREE
  return ResolvePgHome(std::getenv("PG_HOME"), exe, PG_SOURCE_TREE);
#else
  return ResolvePgHome(std::getenv("PG_HOME"), exe, "");
#endif
}

DemoDefaults DemoDefaultsFor(const std::string& home) {
  const fs::path h(home);
  DemoDefaults d;
  d.model = (h / "build" / "demo_model.h5").string();
  d.tokenizer = (h / "assets" / "tokenizer" / "tiny.model").string();
  d.images = (h / "assets" / "images").string();
  d.output = (fs::path("out") / "captions.jsonl").string();
  return d;
}

}  // namespace pg
