// The measured captioning pipeline of `paligemma bench`, one iteration at a time, on one
// active rank of a BenchLayout. Each data-parallel replica takes its images (global image i
// goes to replica i % dp), in chunks of `batch`, and for every chunk runs the phases
//
//   image    decode + preprocess the chunk's image files (the ranks that run the ViT)
//   vit      SigLIP + projector on this rank's images (leader: all; sharded: its share)
//   bcast    image tokens to the group (leader: Broadcast; sharded: AllGather)
//   prefill  the batched prefix-LM prefill and first token (ContinuousBatcher::Prefill, the
//            engine's one generation loop)
//   decode   new_tokens - 1 decode steps (ContinuousBatcher::Decode: embed, forward, greedy
//            sampling in the backend), always run to the end (BatcherOptions::ignore_eos):
//            <eos> does not stop a benchmark (random weights emit it at random)
//
// timed with MPI_Wtime, with a barrier of the tensor-parallel group before the ViT and before
// the broadcast so a phase's time is its own (not the wait for the leader's ViT). The
// all-reduce time inside prefill and decode comes from the TimedCommunicator. The prompts are
// synthetic: <bos> and prompt_len - 1 ids drawn from [3, vocab) per image.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_layout.h"
#include "bench/timed_communicator.h"
#include "engine/continuous_batcher.h"
#include "models/paligemma.h"
#include "tensor_parallel/image_token_broadcast.h"

namespace pg {

struct BenchCase {
  int batch = 1;             // sequences per chunk (per replica)
  int images = 1;            // images per iteration, whole world
  VitPlacement vit = VitPlacement::kLeader;
  int prompt_len = 8;        // text tokens per prompt, <bos> included
  int new_tokens = 20;       // generated tokens per image (1 from the prefill + decode steps)
  uint64_t seed = 0;         // prompt ids
  bool full_logits = false;  // also bring every step's full logits to the host (BatcherOptions::
                             // keep_logits): what --logits-out costs, and what every step cost
                             // before sampling moved into the backend
};

// Seconds spent on one rank in one iteration (sums over its chunks).
struct PhaseTimes {
  double image = 0, vit = 0, bcast = 0, prefill = 0, decode = 0;
  double prefill_allreduce = 0, decode_allreduce = 0;  // all-reduce time inside prefill/decode
  double allgather = 0;                                // logits all-gathers (prefill + decode)
  double allreduce_calls = 0, allreduce_bytes = 0;
  double decode_steps = 0, images = 0;                 // this rank's work
  double decode_host_bytes = 0;  // bytes the backend moved to the host during decode (Backend::stats)
  double e2e = 0;  // barrier-to-barrier over all active ranks: the iteration's wall time
  double cpu = 0;  // this process's CPU seconds (all threads) over the same span: cpu / e2e is the
                   // share of a core the rank got (below 1 on a shared or oversubscribed host)

  static const std::vector<std::string>& Names();  // in ToVector order
  std::vector<double> ToVector() const;
  static PhaseTimes FromVector(const std::vector<double>& v);
};

class BenchRunner {
 public:
  // timed: the model's tensor-parallel communicator (null at tp 1). image_files: decodable
  // images, used round-robin.
  BenchRunner(PaliGemma& model, BenchLayout& layout, TimedCommunicator* timed, std::vector<std::string> image_files);

  // One iteration of `c` on this rank. Collective over layout.active_comm.
  PhaseTimes Run(const BenchCase& c);

 private:
  std::vector<float> DecodeImages(const std::vector<int64_t>& ids);
  Tensor EncodeAndShare(const BenchCase& c, const std::vector<int64_t>& ids, PhaseTimes* t);
  void Generate(const BenchCase& c, const std::vector<int64_t>& ids, const Tensor& tokens,
                PhaseTimes* t);

  PaliGemma& model_;
  BenchLayout& layout_;
  TimedCommunicator* timed_;
  std::vector<std::string> files_;
  std::unique_ptr<ContinuousBatcher> batcher_;  // kept across chunks of the same shape
  BatcherOptions batcher_options_;
};

// Keeps the files of `images` (caption_job/image_list.h ListImages: a directory, list or file)
// that decode; *skipped gets the count of those that do not. Throws if none decodes.
std::vector<std::string> DecodableImages(const std::string& images, int* skipped);

}  // namespace pg
