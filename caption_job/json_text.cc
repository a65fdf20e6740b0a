#include "caption_job/json_text.h"

#include <nlohmann/json.hpp>

#include "runtime/check.h"

namespace pg {

std::string JsonSafeText(const std::string& text) {
  const std::string quoted =
      nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

void CheckUtf8(const std::string& text, const std::string& what) {
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error& e) {
    // e.what(): "[json.exception.type_error.316] invalid UTF-8 byte at index 8: 0xFF"
    std::string detail = e.what();
    const size_t bracket = detail.find("] ");
    if (bracket != std::string::npos) detail = detail.substr(bracket + 2);
    PG_THROW(what << " is not valid UTF-8 (" << detail << ")");
  }
}

std::string ShortenForMessage(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace pg
