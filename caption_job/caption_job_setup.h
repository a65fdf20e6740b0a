// Pieces of the caption job's set-up shared by the loose-file job (caption_job.cc) and the
// tar-shard job (shard_job.cc); defined in caption_job.cc.
#pragma once

#include <cstdint>

#include "caption_job/caption_job.h"
#include "caption_job/caption_replica.h"
#include "caption_job/manifest.h"
#include "engine/model_session.h"

namespace pg {

// What the manifest records of the job's flags and model (the input list is added by the job).
CaptionJobSpec JobSpecFromOptions(const CaptionJobOptions& a, const ModelSession& s);

// The replica's options from the job's flags; slots: the KV-cache slots it uses.
ReplicaOptions MakeReplicaOptions(const CaptionJobOptions& a, const ModelConfig& c, int slots);

// Refuses, before allocating, a --batch whose KV cache and workspaces do not fit this rank's
// share of the host's available memory (CPU backend). images: the most this replica captions.
void CheckBatchMemory(const CaptionJobOptions& a, ModelSession& s, const ReplicaOptions& ro, int64_t images);

}  // namespace pg
