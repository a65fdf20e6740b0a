// The samples of one tar shard, WebDataset style: members are grouped by key, and a key's
// members are its image, its metadata (.json) and its source text (.txt).
//
//   key       the member path up to the first dot of its basename, after the basename's first
//             character ("a/000000001.jpg" -> "a/000000001", ".x.jpg" -> ".x"; no dot: the whole
//             path); extension = the rest ("jpg", "seg.png")
//   image     decided by CONTENT: the first member (by name) whose bytes are an image format we
//             recognise (JPEG, PNG; WebP, GIF, ... fail later with "unsupported image format");
//             if none, the first member with an image extension (a corrupt "x.jpg" still gets
//             an error record naming it)
//   meta      the member with extension "json"; source text: extension "txt"
// Samples come sorted by key (bytes). A key without an image (e.g. only .json), a member that
// appears twice, an unreadable image member (over the size limit, truncated): the sample
// carries an error naming shard and key and is recorded as an error. Members of other kinds
// (.cls, .npy, ...) next to an image are ignored.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/tar_reader.h"

namespace pg {

struct ShardSample {
  std::string key;
  std::string image_member;                  // "" when the key has no image member
  std::shared_ptr<const std::string> image;  // its bytes; null when error is set
  std::string error;                         // "" when the image can be decoded
  bool has_meta = false, has_text = false;
  std::string meta;  // the .json member's bytes
  std::string text;  // the .txt member's bytes
};

struct ShardContents {
  std::string shard;
  std::vector<ShardSample> samples;   // sorted by key
  std::vector<std::string> skipped;   // tar entries that are not regular files
  std::string damage;                 // the archive could not be read to its end (TarContents)
};

// Splits a member path into key and extension (see above).
void SplitSampleKey(const std::string& member, std::string* key, std::string* extension);

// Groups the members (consumed) of `shard` into sorted samples.
std::vector<ShardSample> GroupShardMembers(const std::string& shard, std::vector<TarMember> members);

// ReadTarFile + GroupShardMembers. Never throws for a bad shard (see TarContents::damage).
ShardContents ReadShard(const std::string& shard, const TarReadOptions& options);

}  // namespace pg
