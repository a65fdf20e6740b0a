// libFuzzer target: tar shard bytes -> the caption job's shard path without the model.
// ReadTarBuffer (libarchive: tar formats + gzip) with small limits, then GroupShardMembers
// (WebDataset keys, images by content) and, for each sample, the shard record built from a
// stand-in caption record (ShardRecordLine with --keep-meta: the .json member parsed as JSON).
// Damage is reported, never thrown: any exception here (even pg::Error) is a finding, as is a
// member over the limits or a sample that is neither an image nor an error.
#include <cstddef>
#include <cstdint>

#include "caption_job/caption_record.h"
#include "caption_job/shard_output.h"
#include "caption_job/shard_samples.h"
#include "io/tar_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pg::TarReadOptions o;
  o.max_member_bytes = 1 << 16;
  o.max_total_bytes = 1 << 20;
  o.max_members = 4096;
  pg::TarContents t = pg::ReadTarBuffer(data, size, "<fuzz>.tar", o);
  int64_t total = 0;
  for (const pg::TarMember& m : t.members) {
    if (static_cast<int64_t>(m.data.size()) > o.max_member_bytes) __builtin_trap();
    if (!m.error.empty() && !m.data.empty()) __builtin_trap();
    total += static_cast<int64_t>(m.data.size());
  }
  if (total > o.max_total_bytes) __builtin_trap();
  pg::ShardContents c;
  c.shard = "<fuzz>.tar";
  c.damage = t.damage;
  c.samples = pg::GroupShardMembers(c.shard, std::move(t.members));
  for (size_t i = 0; i < c.samples.size(); ++i) {
    const pg::ShardSample& s = c.samples[i];
    if (s.error.empty() == !s.image) __builtin_trap();  // an image xor an error
    if (i > 0 && !(c.samples[i - 1].key < s.key)) __builtin_trap();  // sorted, unique keys
    const std::string line = s.error.empty() ? pg::ErrorRecordLine(pg::SampleDisplayName(c, i), i, "stand-in")
                                             : pg::ErrorRecordLine(pg::SampleDisplayName(c, i), i, s.error);
    (void)pg::ShardRecordLine(line, c, i, /*keep_meta=*/true);
  }
  if (!c.damage.empty()) (void)pg::ShardDamageRecordLine(c);
  return 0;
}
