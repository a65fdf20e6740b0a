#include "engine/request_file.h"

#include <filesystem>
#include <fstream>

#include "runtime/check.h"

#include <nlohmann/json.hpp>

namespace pg {

std::vector<ImagePrompt> ReadRequestFile(const std::string& path, const std::string& default_prompt) {
  std::ifstream in(path, std::ios::binary);
  PG_CHECK(in, "--requests '" << path << "': cannot open the file");
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  std::vector<ImagePrompt> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (n == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](const std::string& why) {
      PG_THROW("--requests '" << path << "' line " << n << ": " << why
                              << " (expected {\"image\": PATH, \"prompt\": TEXT} or {\"image\": PATH, \"prompts\": [TEXT, ...]})");
    };
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      bad(std::string("not JSON: ") + e.what());
    }
    if (!j.is_object()) bad("not a JSON object");
    if (!j.contains("image") || !j["image"].is_string() || j["image"].get<std::string>().empty())
      bad("no \"image\" string");
    // NUL is refused: the jobs pass lists between ranks NUL-separated (and no path holds one).
    if (j["image"].get<std::string>().find('\0') != std::string::npos) bad("\"image\" holds a NUL character");
    std::filesystem::path image(j["image"].get<std::string>());
    if (image.is_relative() && !base.empty()) image = base / image;
    if (j.contains("prompt") && j.contains("prompts")) bad("both \"prompt\" and \"prompts\"");
    std::vector<std::string> prompts;
    if (j.contains("prompts")) {
      if (!j["prompts"].is_array() || j["prompts"].empty()) bad("\"prompts\" is not a non-empty array");
      for (const auto& p : j["prompts"]) {
        if (!p.is_string()) bad("\"prompts\" holds a value that is not a string");
        prompts.push_back(p.get<std::string>());
      }
    } else if (j.contains("prompt")) {
      if (!j["prompt"].is_string()) bad("\"prompt\" is not a string");
      prompts.push_back(j["prompt"].get<std::string>());
    } else {
      prompts.push_back(default_prompt);
    }
    for (const std::string& p : prompts)
      if (p.find('\0') != std::string::npos) bad("a prompt holds a NUL character");
    for (std::string& p : prompts) out.push_back({image.lexically_normal().string(), std::move(p)});
  }
  PG_CHECK(!out.empty(), "--requests '" << path << "' holds no request");
  return out;
}

}  // namespace pg
