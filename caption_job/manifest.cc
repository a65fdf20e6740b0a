#include "caption_job/manifest.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caption_job/durable_io.h"
#include "caption_job/fingerprint.h"
#include "caption_job/image_list.h"
#include "caption_job/json_text.h"
#include "runtime/check.h"

namespace pg {
namespace {

constexpr const char* kFormat = "paligemma-caption-manifest/1";

std::string FloatText(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
  return buf;
}

}  // namespace

void Manifest::Set(const std::string& key, const std::string& value) {
  for (auto& kv : fields_) {
    if (kv.first == key) {
      kv.second = JsonSafeText(value);
      return;
    }
  }
  fields_.emplace_back(key, JsonSafeText(value));
}

const std::string* Manifest::Get(const std::string& key) const {
  for (const auto& kv : fields_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

std::string Manifest::ToJsonText() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& kv : fields_) j[kv.first] = kv.second;
  return j.dump(2) + "\n";
}

Manifest Manifest::FromJsonText(const std::string& text, const std::string& source) {
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    PG_THROW("manifest '" << source << "' is not valid JSON: " << e.what());
  }
  PG_CHECK(j.is_object(), "manifest '" << source << "' is not a JSON object");
  Manifest m;
  for (auto it = j.begin(); it != j.end(); ++it) {
    PG_CHECK(it.value().is_string(), "manifest '" << source << "': field '" << it.key() << "' is not a string");
    m.Set(it.key(), it.value().get<std::string>());
  }
  return m;
}

Manifest BuildManifest(const CaptionJobSpec& s) {
  Manifest m;
  m.Set("format", kFormat);
  const FileIdentity model = IdentifyFile(s.model_path, "--model");
  m.Set("model.path", model.canonical_path);
  m.Set("model.size", std::to_string(model.size));
  m.Set("model.mtime_ns", std::to_string(model.mtime_ns));
  m.Set("model.config_hash", HexU64(Fnv1a64(s.model_config_json)));
  m.Set("model.dtype", s.model_dtype);
  const FileIdentity tok = IdentifyFile(s.tokenizer_path, "--tokenizer");
  m.Set("tokenizer.path", tok.canonical_path);
  m.Set("tokenizer.hash", HashFileContents(s.tokenizer_path));
  m.Set("prompt", s.prompt);
  m.Set("max_new_tokens", std::to_string(s.max_new_tokens));
  m.Set("sampling.temperature", FloatText(s.sampling.temperature));
  m.Set("sampling.top_k", std::to_string(s.sampling.top_k));
  m.Set("sampling.top_p", FloatText(s.sampling.top_p));
  m.Set("sampling.seed", std::to_string(s.sampling.seed));
  m.Set("resize", s.resize);
  m.Set("backend", s.backend);
  if (s.weight_dtype != "f32") m.Set("weight_dtype", s.weight_dtype);
  if (s.scores) m.Set("scores", "true");
  m.Set("max_image_pixels", std::to_string(s.max_image_pixels));
  if (s.exif_transpose) m.Set("exif_transpose", "true");
  if (!s.vae_path.empty()) m.Set("vae.hash", HashFileContents(s.vae_path));
  if (!s.masks_dir.empty()) m.Set("masks_dir", s.masks_dir);
  m.Set("images.count", std::to_string(s.images.size()));
  m.Set("images.hash", ImageListHash(s.images));
  if (!s.item_prompts.empty()) {
    // Length-prefixed, so prompts holding newlines cannot collide ("a\nb","c" vs "a","b\nc").
    uint64_t h = Fnv1a64(std::to_string(s.item_prompts.size()) + "\n");
    for (const std::string& p : s.item_prompts) h = Fnv1a64(std::to_string(p.size()) + ":" + p, h);
    m.Set("prompts.hash", HexU64(h));
  }
  return m;
}

std::vector<std::string> DiffManifests(const Manifest& recorded, const Manifest& now) {
  std::vector<std::string> diffs;
  for (const auto& kv : now.fields()) {
    const std::string* old = recorded.Get(kv.first);
    if (old == nullptr) {
      diffs.push_back(kv.first + ": not recorded, now \"" + ShortenForMessage(kv.second) + "\"");
    } else if (*old != kv.second) {
      diffs.push_back(kv.first + ": recorded \"" + ShortenForMessage(*old) + "\", now \"" +
                      ShortenForMessage(kv.second) + "\"");
    }
  }
  for (const auto& kv : recorded.fields()) {
    if (now.Get(kv.first) == nullptr) diffs.push_back(kv.first + ": recorded \"" + ShortenForMessage(kv.second) + "\", now absent");
  }
  return diffs;
}

bool CheckOrWriteManifest(const std::string& path, const Manifest& now) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    WriteFileAtomically(path, now.ToJsonText());
    return false;
  }
  const Manifest recorded = Manifest::FromJsonText(ReadWholeFile(path), path);
  const std::vector<std::string> diffs = DiffManifests(recorded, now);
  if (diffs.empty()) return true;
  std::ostringstream os;
  os << "cannot resume: the manifest '" << path << "' was written for a different job ("
     << diffs.size() << (diffs.size() == 1 ? " field differs" : " fields differ") << "):";
  for (const std::string& d : diffs) os << "\n  " << d;
  os << "\nresume with the same model, tokenizer, prompt, sampling, resize filter, backend and image list; "
        "or pass --restart to discard the records in "
     << std::filesystem::path(path).parent_path().string() << "/ and start over, or choose another --output";
  PG_THROW(os.str());
}

}  // namespace pg
