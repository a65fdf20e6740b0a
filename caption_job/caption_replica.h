// One data-parallel replica of the caption job: a tensor-parallel group that captions its
// share of the images with continuous batching and appends the records to its part file.
//
// The group leader (tp rank 0) alone reads images (ImagePrefetcher, background threads) and
// writes the part file. Each engine iteration it decides what to admit and tells the group:
//   0. signal   max over the group   AllReduceMaxInt64 of InterruptSignal() (dist/interrupt.h):
//                                    non-zero stops the group between two steps
//   1. header   [n, stop]            BroadcastHost over the tp group
//   2. items    [n x (index, ok)]    which images were decoded; failed ones become "error"
//                                    records on the leader and are skipped by everyone
//   3. pixels   [k, S, S, 3]         only with --vit sharded (the ViT runs on every rank)
//   4. EncodeImagesForGroup on the k good images, Submit them (one sequence per item of the
//      image: seq_id = item index, its prompt), and
//      ContinuousBatcher::Step; finished sequences are committed (write + fsync) by the leader.
// Every rank therefore makes the same collective calls in the same order; followers never
// touch the filesystem.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "io/tokenizer.h"
#include "models/paligemma.h"
#include "models/sampler.h"
#include "caption_job/image_prefetcher.h"
#include "tensor_parallel/image_token_broadcast.h"

namespace pg {

// Multi-prompt jobs: the job's key (PrefetchJob::index, its first pending item) -> the pending
// items of that image, each a sequence of its own.
using ItemGroups = std::map<int64_t, std::vector<int64_t>>;

struct ReplicaOptions {
  std::string prompt = "caption en";
  // Multi-prompt jobs: every item's prompt ([items], indexed by item) and the items of each job;
  // null: one item per job (its index), all with `prompt`.
  std::shared_ptr<const std::vector<std::string>> item_prompts;
  std::shared_ptr<const ItemGroups> groups;
  int batch = 16;  // sequences decoding at once (KV-cache slots)
  int max_new_tokens = 32;
  SamplingParams sampling;
  bool scores = false;  // records carry the generated tokens' log-probabilities
  std::string vae;        // --vae: the mask decoder's npz (segment prompts get masks)
  std::string masks_dir;  // --masks-dir: one PNG per mask (caption_job/segment_fields.h)
  VitPlacement vit = VitPlacement::kLeader;
  PrefetchOptions prefetch;  // used by the leader
  double step_delay_s = 0;   // debug (PG_DEBUG_CAPTION_STEP_DELAY_MS): sleep after each iteration
};

struct ReplicaStats {
  int64_t images = 0;  // records written
  int64_t errors = 0;
  int64_t tokens = 0;  // generated, <eos> not counted
  int64_t steps = 0;   // engine iterations
  double wait_images_s = 0;  // leader: time blocked on the prefetcher (decode-bound if large)
  double vit_s = 0;
  double step_s = 0;
  int interrupted_by = 0;  // the signal that stopped the replica early (in-flight work dropped), or 0
};

// Throws pg::Error naming --prompt if <image tokens> + the prompt's tokens + max_new_tokens do
// not fit the model's max_seq_len (checked before the job writes anything, and again by the
// replica).
void CheckCaptionPromptFits(const ModelConfig& c, const Tokenizer& tok, const std::string& prompt,
                            int max_new_tokens);

class CaptionReplica {
 public:
  // Allocates the KV cache (ContinuousBatcher); throws pg::Error if the prompt does not fit.
  // `tp_control`: the group's host communicator, rank 0 = leader.
  CaptionReplica(PaliGemma& model, const Tokenizer& tokenizer, Communicator& tp_control,
                 const ReplicaOptions& options);
  ~CaptionReplica();

  // Collective over `tp_control`. `jobs` and `part_path` are used on the leader only.
  ReplicaStats Run(const std::vector<PrefetchJob>& jobs, const std::string& part_path);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pg
