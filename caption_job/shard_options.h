// The caption job's tar-shard options (`caption --shards ...`); see caption_job/shard_job.h.
#pragma once

#include <string>

namespace pg {

struct ShardJobOptions {
  std::string shards;      // --shards SPEC (caption_job/shard_list.h); empty: not a shard job
  std::string output_dir;  // --output-dir: one OUTDIR/<shard>.jsonl per shard
  std::string range;       // --shard-range A:B | A: | K/N (a Slurm job-array element's shards)
  bool keep_meta = false;  // --keep-meta: the .json member as "meta", the .txt as "source_text"
};

}  // namespace pg
