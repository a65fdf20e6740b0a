// The output of one tar shard: OUTDIR/<ShardOutputName(shard)>, one record per sample in key
// order, written atomically (tmp + fsync + rename) once every sample has a record, so a shard
// is the unit of work and of resume. The job's state lives beside the outputs:
//
//   OUTDIR/.parts/manifest.json   what the records depend on (caption_job/manifest.h); the
//                                 shard list is not part of it, so Slurm array elements with
//                                 different --shard-range share one OUTDIR
//   OUTDIR/.parts/NAME.part       the records of a shard being captioned, in completion order
//                                 (CaptionReplica appends them); removed when NAME is written,
//                                 started afresh when an interrupted shard is redone
//   OUTDIR/.parts/NAME.lock       flock'ed by the replica working on the shard
//   OUTDIR/.parts/manifest.lock   flock'ed while a job checks or writes the manifest (array
//                                 elements starting at once)
//
// A record is the caption record (caption_record.h) with the image replaced by the member
// name and the shard fields added, in this order:
//   "image" (member name; null when the key has no image), "image_bytes_b64" (only for a name
//   that is not UTF-8), "shard" (the path as listed), "key", "index" (position in the shard's
//   key order), "status", "text", "tokens", "eos", "boxes", "error", then with --keep-meta:
//   "meta" (the .json member parsed; "meta_error" instead when it is not JSON) and
//   "source_text" (the .txt member), each only when the key has that member.
// A shard that could not be read to its end gets one more error record after its samples:
// "image" null, "key" null, "index" = number of samples, "error" = why reading stopped.
#pragma once

#include <cstdint>
#include <string>

#include "caption_job/file_lock.h"
#include "caption_job/shard_samples.h"

namespace pg {

std::string ShardStateDir(const std::string& output_dir);  // OUTDIR/.parts
std::string ShardOutputPath(const std::string& output_dir, const std::string& shard);
std::string ShardPartPath(const std::string& output_dir, const std::string& shard);

// The path caption records and error messages use for a sample: "SHARD:MEMBER" (or
// "SHARD:KEY" when the key has no image).
std::string SampleDisplayName(const ShardContents& c, size_t index);

// The shard record of sample `index` from the replica's record line for it.
std::string ShardRecordLine(const std::string& replica_line, const ShardContents& c, size_t index, bool keep_meta);
// The record saying why the shard could not be read to its end (c.damage non-empty).
std::string ShardDamageRecordLine(const ShardContents& c);

struct ShardOutputStats {
  int64_t records = 0;
  int64_t errors = 0;
};
// Reads the replica's records from `part_path` (one per sample, any order), writes the shard's
// output atomically to `output`, removes `part_path`. Throws pg::Error naming the part file
// and the sample if a sample has no record or a record is for no sample.
ShardOutputStats WriteShardOutput(const std::string& part_path, const ShardContents& c, bool keep_meta,
                                  const std::string& output);

// An exclusive flock on `path` for the object's lifetime; throws pg::Error naming `what`
// (e.g. the shard) if another process holds it, or with `wait`, waits for it.
class ShardLock : public FileLock {
 public:
  ShardLock(const std::string& path, const std::string& what, bool wait = false);
};

}  // namespace pg
