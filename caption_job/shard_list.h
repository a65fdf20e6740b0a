// The caption job's list of tar shards (`caption --shards SPEC`), deterministic so that every
// rank, every run and every Slurm array element numbers the shards the same way.
//
//   SPEC = 'data/{00000..00999}.tar'   brace expansion as bash does it: {A..B} integer ranges
//                                       (zero-padded to the wider bound when either bound has a
//                                       leading zero; descending when A > B) and {x,y,z} lists,
//                                       nested and repeated; then
//          'data/*.tar'                 a glob (* ? [...]) on each result, matches sorted by bytes;
//                                       a pattern with no match is an error naming it;
//          data/                        a directory: its *.tar, *.tar.gz and *.tgz files, sorted;
//          shards.txt                   a list file (any existing file that is not a tar archive
//                                       by name): one SPEC per line, relative to the list's
//                                       directory, '#' comments and blank lines skipped;
//          data/00000.tar               one shard.
// Paths are lexically normalised. A shard named twice, or two shards whose outputs would have
// the same name (ShardOutputName), is an error naming both. Whether a shard exists is checked
// by the job (caption_job/shard_job.h), not here, except for globs and directories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

// Brace expansion only (no filesystem access). Throws pg::Error naming `spec` for an unbalanced
// brace or more than `max_results` results.
std::vector<std::string> ExpandBraces(const std::string& spec, size_t max_results = size_t{1} << 24);

// The shard list for `spec` (see above). Throws pg::Error naming `spec` (or the list file and
// line) when it yields no shards, a glob matches nothing, or names collide.
std::vector<std::string> ListShards(const std::string& spec);

// True for names ending in .tar, .tar.gz or .tgz.
bool HasTarExtension(const std::string& path);

// The output file name of a shard: its basename without .tar / .tar.gz / .tgz, plus ".jsonl"
// ("data/00042.tar" -> "00042.jsonl").
std::string ShardOutputName(const std::string& shard);

// `--shard-range`: "A:B" (shards A..B-1 of the list, 0-based; B past the end is clamped;
// "A:" = to the end) or "K/N" (the K-th of N contiguous, near-equal parts, 0-based), for a
// Slurm job-array element. "" selects every shard. Returns [begin, end), possibly empty (an
// array element past the end has nothing to do). Throws pg::Error naming --shard-range when
// malformed.
struct ShardRange {
  int64_t begin = 0, end = 0;
};
ShardRange ParseShardRange(const std::string& spec, int64_t shards);

}  // namespace pg
