#include "caption_job/shard_samples.h"

#include <algorithm>
#include <map>
#include <utility>

#include "caption_job/image_list.h"
#include "io/image_decode.h"

namespace pg {
namespace {

bool IsImageBytes(const std::string& data) {
  return ImageFormatName(reinterpret_cast<const uint8_t*>(data.data()), data.size()) != nullptr;
}

std::string Describe(const std::string& shard, const std::string& key) {
  return "shard '" + shard + "' key '" + key + "'";
}

std::string MemberNames(const std::vector<TarMember*>& members) {
  std::string s;
  for (const TarMember* m : members) s += (s.empty() ? "" : ", ") + m->name;
  return s;
}

// One key's members (sorted by name) -> its sample.
ShardSample MakeSample(const std::string& shard, const std::string& key, std::vector<TarMember*>& members) {
  ShardSample s;
  s.key = key;
  for (size_t i = 1; i < members.size(); ++i)
    if (members[i]->name == members[i - 1]->name) {
      s.error = Describe(shard, key) + ": the member '" + members[i]->name + "' appears twice in the shard";
      return s;
    }
  TarMember* image = nullptr;
  for (TarMember* m : members)
    if (m->error.empty() && IsImageBytes(m->data)) { image = m; break; }
  if (image == nullptr)
    for (TarMember* m : members)
      if (HasImageExtension(m->name)) { image = m; break; }
  for (TarMember* m : members) {
    std::string k, ext;
    SplitSampleKey(m->name, &k, &ext);
    if (m == image || !m->error.empty()) continue;
    if (ext == "json" && !s.has_meta) s.has_meta = true, s.meta = std::move(m->data);
    if (ext == "txt" && !s.has_text) s.has_text = true, s.text = std::move(m->data);
  }
  if (image == nullptr) {
    for (TarMember* m : members)  // an unreadable member may have been the image
      if (!m->error.empty()) {
        s.error = m->error;
        return s;
      }
    s.error = Describe(shard, key) + ": no image member (found: " + MemberNames(members) + ")";
    return s;
  }
  s.image_member = image->name;
  if (!image->error.empty()) {
    s.error = image->error;
    return s;
  }
  s.image = std::make_shared<const std::string>(std::move(image->data));
  return s;
}

}  // namespace

void SplitSampleKey(const std::string& member, std::string* key, std::string* extension) {
  const size_t slash = member.rfind('/');
  const size_t base = slash == std::string::npos ? 0 : slash + 1;
  const size_t dot = base + 1 < member.size() ? member.find('.', base + 1) : std::string::npos;
  *key = member.substr(0, dot);
  *extension = dot == std::string::npos ? "" : member.substr(dot + 1);
}

std::vector<ShardSample> GroupShardMembers(const std::string& shard, std::vector<TarMember> members) {
  std::map<std::string, std::vector<TarMember*>> by_key;  // sorted by key bytes
  for (TarMember& m : members) {
    std::string key, ext;
    SplitSampleKey(m.name, &key, &ext);
    by_key[key].push_back(&m);
  }
  std::vector<ShardSample> samples;
  samples.reserve(by_key.size());
  for (auto& entry : by_key) {
    std::vector<TarMember*>& group = entry.second;
    std::stable_sort(group.begin(), group.end(), [](const TarMember* a, const TarMember* b) { return a->name < b->name; });
    samples.push_back(MakeSample(shard, entry.first, group));
  }
  return samples;
}

ShardContents ReadShard(const std::string& shard, const TarReadOptions& options) {
  TarContents t = ReadTarFile(shard, options);
  ShardContents c;
  c.shard = shard;
  c.skipped = std::move(t.skipped);
  c.damage = std::move(t.damage);
  c.samples = GroupShardMembers(shard, std::move(t.members));
  return c;
}

}  // namespace pg
