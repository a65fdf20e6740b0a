#include "caption_job/caption_record.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace pg {
namespace {

// Invalid UTF-8 (a byte-fallback piece cut mid-character) is replaced, never an exception.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Box coordinates to 1/100 pixel: "12.35" instead of float noise such as 12.350000381.
double Pixels(float v) { return std::round(static_cast<double>(v) * 100.0) / 100.0; }

}  // namespace

bool IsDetectionPrompt(const std::string& prompt) {
  size_t i = 0;
  while (i < prompt.size() && (prompt[i] == ' ' || prompt[i] == '\t')) ++i;
  return prompt.compare(i, 7, "detect ") == 0;
}

std::string OkRecordLine(const CaptionResult& r) {
  nlohmann::ordered_json j;
  j["image"] = r.image;
  j["index"] = r.index;
  j["status"] = "ok";
  j["text"] = r.text;
  j["tokens"] = r.tokens;
  j["eos"] = r.hit_eos;
  if (r.with_boxes) {
    nlohmann::ordered_json boxes = nlohmann::ordered_json::array();
    for (const Detection& d : r.boxes) {
      nlohmann::ordered_json b;
      b["label"] = d.label;
      b["x0"] = Pixels(d.x0);
      b["y0"] = Pixels(d.y0);
      b["x1"] = Pixels(d.x1);
      b["y1"] = Pixels(d.y1);
      boxes.push_back(b);
    }
    j["boxes"] = boxes;
  }
  j["error"] = nullptr;
  return Dump(j);
}

std::string ErrorRecordLine(const std::string& image, int64_t index, const std::string& error) {
  nlohmann::ordered_json j;
  j["image"] = image;
  j["index"] = index;
  j["status"] = "error";
  j["text"] = nullptr;
  j["tokens"] = 0;
  j["error"] = error;
  return Dump(j);
}

}  // namespace pg
