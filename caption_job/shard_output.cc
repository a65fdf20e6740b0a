#include "caption_job/shard_output.h"

#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "caption_job/caption_record.h"
#include "caption_job/durable_io.h"
#include "caption_job/json_text.h"
#include "caption_job/part_files.h"
#include "caption_job/shard_list.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// "image" (+ "image_bytes_b64"), "shard", "key" of sample `index`.
void SetSampleHead(Json& j, const ShardContents& c, const ShardSample* s) {
  if (s == nullptr || s->image_member.empty()) {
    j["image"] = nullptr;
  } else {
    j["image"] = s->image_member;
    if (JsonSafeText(s->image_member) != s->image_member) j["image_bytes_b64"] = ImagePathBase64(s->image_member);
  }
  j["shard"] = c.shard;
  if (s == nullptr)
    j["key"] = nullptr;
  else
    j["key"] = s->key;
}

void SetMeta(Json& j, const ShardSample& s) {
  if (s.has_meta) {
    try {
      j["meta"] = Json::parse(s.meta);
    } catch (const std::exception& e) {
      j["meta_error"] = "the .json member is not JSON: " + std::string(e.what());
    }
  }
  if (s.has_text) j["source_text"] = s.text;
}

// Calls fn(line, line_number) for every '\n'-terminated line of `text`.
template <typename Fn>
void ForEachLine(const std::string& text, Fn fn) {
  size_t start = 0;
  int64_t number = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    fn(text.substr(start, nl - start), ++number);
}

}  // namespace

std::string ShardStateDir(const std::string& output_dir) { return (fs::path(output_dir) / ".parts").string(); }

std::string ShardOutputPath(const std::string& output_dir, const std::string& shard) {
  return (fs::path(output_dir) / ShardOutputName(shard)).string();
}

std::string ShardPartPath(const std::string& output_dir, const std::string& shard) {
  return (fs::path(ShardStateDir(output_dir)) / (ShardOutputName(shard) + ".part")).string();
}

std::string SampleDisplayName(const ShardContents& c, size_t index) {
  const ShardSample& s = c.samples.at(index);
  return c.shard + ":" + (s.image_member.empty() ? s.key : s.image_member);
}

std::string ShardRecordLine(const std::string& replica_line, const ShardContents& c, size_t index, bool keep_meta) {
  const Json r = Json::parse(replica_line);
  const ShardSample& s = c.samples.at(index);
  Json j;
  SetSampleHead(j, c, &s);
  for (auto it = r.begin(); it != r.end(); ++it) {
    if (it.key() == "image" || it.key() == "image_bytes_b64") continue;
    j[it.key()] = it.value();
  }
  j["index"] = static_cast<int64_t>(index);
  if (keep_meta) SetMeta(j, s);
  return Dump(j);
}

std::string ShardDamageRecordLine(const ShardContents& c) {
  Json j;
  SetSampleHead(j, c, nullptr);
  j["index"] = static_cast<int64_t>(c.samples.size());
  j["status"] = "error";
  j["text"] = nullptr;
  j["tokens"] = 0;
  j["error"] = c.damage;
  return Dump(j);
}

ShardOutputStats WriteShardOutput(const std::string& part_path, const ShardContents& c, bool keep_meta,
                                  const std::string& output) {
  const size_t n = c.samples.size();
  std::vector<std::string> lines(n);
  ShardOutputStats stats;
  const std::string text = fs::exists(part_path) ? ReadWholeFile(part_path) : std::string();
  ForEachLine(text, [&](const std::string& line, int64_t number) {
    const std::string where = part_path + ":" + std::to_string(number);
    const RecordInfo r = ParseRecordLine(line, where);
    PG_CHECK(r.index >= 0 && r.index < static_cast<int64_t>(n),
             where << ": record index " << r.index << " is outside shard '" << c.shard << "' (" << n << " samples)");
    PG_CHECK(lines[r.index].empty(), where << ": a second record for " << SampleDisplayName(c, r.index));
    lines[r.index] = ShardRecordLine(line, c, r.index, keep_meta);
    stats.errors += !r.ok;
  });
  for (size_t i = 0; i < n; ++i)
    PG_CHECK(!lines[i].empty(), "shard '" << c.shard << "': sample " << i << " (" << SampleDisplayName(c, i)
                                          << ") has no record in '" << part_path << "'");
  if (!c.damage.empty()) {
    lines.push_back(ShardDamageRecordLine(c));
    ++stats.errors;
  }
  stats.records = static_cast<int64_t>(lines.size());
  std::string buf;
  for (const std::string& l : lines) buf.append(l).push_back('\n');
  WriteFileAtomically(output, buf);
  std::error_code ec;
  fs::remove(part_path, ec);
  return stats;
}

ShardLock::ShardLock(const std::string& path, const std::string& what, bool wait)
    : FileLock(path, "another caption job is captioning " + what, "give each job its own --shard-range", wait) {}

}  // namespace pg
