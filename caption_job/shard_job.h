// The caption job over tar shards (WebDataset / img2dataset layout):
//   mpirun -np 4 paligemma caption --shards 'data/{00000..00999}.tar' --output-dir captions --tp 2
//
// The shard is the unit of work and of resume. World rank 0 lists the shards
// (caption_job/shard_list.h), selects --shard-range, checks that they exist and the manifest
// (OUTDIR/.parts/manifest.json: model, prompt, sampling, ..., --keep-meta; not the shard list),
// and marks as done every shard whose OUTDIR/<name>.jsonl exists. The pending shards are dealt
// round-robin over the dp replicas (pending shard j -> replica j % dp). Each replica's leader,
// per shard: takes the shard's lock, reads it (caption_job/shard_samples.h; the next shard is
// read ahead on a thread, so at most two shards' member bytes are in memory), and the whole
// tensor-parallel group captions its samples with the loose-file job's machinery
// (CaptionReplica, ImagePrefetcher decoding from memory, records appended to
// OUTDIR/.parts/<name>.part); then the leader writes OUTDIR/<name>.jsonl atomically
// (caption_job/shard_output.h). A killed job loses only its unfinished shards, which a rerun
// redoes from their start; finished shards are skipped whatever the layout. --restart removes
// the selected shards' outputs and the manifest first. --progress does not apply: the replica
// leaders print one line per finished shard.
#pragma once

#include "caption_job/caption_job.h"
#include "engine/model_session.h"

namespace pg {

// Collective over MPI_COMM_WORLD; `a.shard.shards` is set. Throws pg::Error naming the bad input.
void RunShardCaptionJob(const CaptionJobOptions& a, ModelSession& s);

}  // namespace pg
