#include "caption_job/caption_record.h"

#include <cmath>

#include "caption_job/json_text.h"

#include <nlohmann/json.hpp>

namespace pg {
namespace {

// Invalid UTF-8 (a byte-fallback piece cut mid-character) is replaced, never an exception.
std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Box coordinates to 1/100 pixel: "12.35" instead of float noise such as 12.350000381.
double Pixels(float v) { return std::round(static_cast<double>(v) * 100.0) / 100.0; }

// Log-probabilities to 1e-4: enough to rank answers, and stable against the last-bit
// differences of another tensor-parallel layout's reductions.
double Rounded(double v) { return std::round(v * 1e4) / 1e4; }

// Standard base64 (RFC 4648, with padding).
std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (two ? uint8_t(bytes[i + 1]) << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(two ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// "image" (U+FFFD for invalid bytes, for reading) and, only when the path is not valid UTF-8,
// "image_bytes_b64": the path's exact bytes, so that the record names the file reversibly.
void SetImage(nlohmann::ordered_json& j, const std::string& image) {
  j["image"] = image;
  if (JsonSafeText(image) != image) j["image_bytes_b64"] = Base64(image);
}

}  // namespace

std::string ImagePathBase64(const std::string& bytes) { return Base64(bytes); }

bool IsDetectionPrompt(const std::string& prompt) {
  size_t i = 0;
  while (i < prompt.size() && (prompt[i] == ' ' || prompt[i] == '\t')) ++i;
  return prompt.compare(i, 7, "detect ") == 0;
}

std::string OkRecordLine(const CaptionResult& r) {
  nlohmann::ordered_json j;
  SetImage(j, r.image);
  j["index"] = r.index;
  if (r.prompt) j["prompt"] = *r.prompt;
  j["status"] = "ok";
  j["text"] = r.text;
  j["tokens"] = r.tokens;
  j["eos"] = r.hit_eos;
  if (r.with_boxes) {
    j["parse_error"] = r.parse_error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.parse_error);
    if (!r.mask_note.empty()) j["mask_note"] = r.mask_note;
    nlohmann::ordered_json boxes = nlohmann::ordered_json::array();
    for (size_t i = 0; i < r.boxes.size(); ++i) {
      const Detection& d = r.boxes[i];
      nlohmann::ordered_json b;
      b["label"] = d.label;
      b["x0"] = Pixels(d.x0);
      b["y0"] = Pixels(d.y0);
      b["x1"] = Pixels(d.x1);
      b["y1"] = Pixels(d.y1);
      if (i < r.masks.size() && r.masks[i].present) {
        const BoxMask& m = r.masks[i];
        b["mask"] = {{"size", {m.height, m.width}}, {"counts", m.counts}};
        if (!m.png.empty()) b["mask_png"] = m.png;
      }
      boxes.push_back(b);
    }
    j["boxes"] = boxes;
  }
  if (r.with_scores) {
    double sum = 0;
    nlohmann::ordered_json per = nlohmann::ordered_json::array();
    for (float lp : r.token_logprobs) {
      sum += lp;
      per.push_back(Rounded(lp));
    }
    j["logprob"] = Rounded(sum);
    j["token_logprobs"] = per;
  }
  j["error"] = nullptr;
  return Dump(j);
}

std::string ErrorRecordLine(const std::string& image, int64_t index, const std::string& error,
                            const std::string* prompt) {
  nlohmann::ordered_json j;
  SetImage(j, image);
  j["index"] = index;
  if (prompt) j["prompt"] = *prompt;
  j["status"] = "error";
  j["text"] = nullptr;
  j["tokens"] = 0;
  j["error"] = error;
  return Dump(j);
}

}  // namespace pg
