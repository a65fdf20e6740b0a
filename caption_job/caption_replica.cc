#include "caption_job/caption_replica.h"

#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "dist/fault_injection.h"
#include "dist/interrupt.h"
#include "engine/continuous_batcher.h"
#include "engine/generator.h"
#include "caption_job/caption_record.h"
#include "caption_job/json_text.h"
#include "caption_job/part_files.h"
#include "caption_job/segment_fields.h"
#include "runtime/check.h"

namespace pg {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct InFlight {
  std::string path;
  int width = 0, height = 0;
  const std::string* prompt = nullptr;  // multi-prompt jobs
};

}  // namespace

void CheckCaptionPromptFits(const ModelConfig& c, const Tokenizer& tok, const std::string& prompt,
                            int max_new_tokens) {
  try {
    CheckPromptFits(c, tok.BuildPrompt(prompt).size(), max_new_tokens);
  } catch (const Error& e) {
    PG_THROW("--prompt \"" << ShortenForMessage(prompt) << "\": " << e.what());
  }
}

class CaptionReplica::Impl {
 public:
  Impl(PaliGemma& model, const Tokenizer& tok, Communicator& tp, const ReplicaOptions& o)
      : model_(model), tok_(tok), tp_(tp), o_(o), leader_(tp.rank() == 0) {
    BatcherOptions bo;
    bo.max_batch = o.batch;
    bo.max_new_tokens = o.max_new_tokens;
    bo.sampling = o.sampling;
    bo.keep_logprobs = o.scores;
    const ModelConfig& c = model.config();
    CheckCaptionPromptFits(c, tok, o.prompt, o.max_new_tokens);
    batcher_ = std::make_unique<ContinuousBatcher>(model, bo);
    // --vae: every rank loads it (a bad file fails the whole group alike); the leader decodes.
    if (!o.vae.empty()) mask_decoder_ = std::make_unique<MaskDecoder>(o.vae, model.backend());
    segment_out_.decoder = mask_decoder_.get();
    segment_out_.masks_dir = o.masks_dir;
  }

  ReplicaStats Run(const std::vector<PrefetchJob>& jobs, const std::string& part_path) {
    if (leader_) {
      prefetcher_ = std::make_unique<ImagePrefetcher>(jobs, o_.prefetch);
      writer_ = std::make_unique<PartWriter>(part_path);
    }
    for (;;) {
      // A signal on any rank of the group stops it here, between engine steps: what is
      // committed stays, the sequences in flight are dropped (a rerun captions them).
      int64_t sig = InterruptSignal();
      if (tp_.size() > 1) sig = tp_.AllReduceMaxInt64(sig);
      if (sig != 0) {
        stats_.interrupted_by = static_cast<int>(sig);
        break;
      }
      std::vector<PreparedImage> fresh;
      const bool stop = AgreeOnAdmissions(&fresh);
      if (stop) break;
      Admit(fresh);
      std::vector<SequenceResult> done;
      if (!batcher_->idle()) {
        FaultPoint("caption step");
        const double t0 = Now();
        done = batcher_->Step();
        stats_.step_s += Now() - t0;
        ++stats_.steps;
      }
      if (leader_) Record(done);
      if (o_.step_delay_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(o_.step_delay_s));
    }
    prefetcher_.reset();
    return stats_;
  }

 private:
  // Leader: takes images for the free slots; everyone: learns [n, stop] and the items' status.
  // fresh: on the leader the images themselves; on followers placeholders with index and ok.
  bool AgreeOnAdmissions(std::vector<PreparedImage>* fresh) {
    int64_t header[2] = {0, 0};
    if (leader_) {
      const int need = batcher_->free_slots() - batcher_->waiting();
      if (need > 0 && !prefetcher_->exhausted()) {
        const double t0 = Now();
        *fresh = prefetcher_->Take(need, /*block=*/batcher_->idle());
        stats_.wait_images_s += Now() - t0;
      }
      header[0] = static_cast<int64_t>(fresh->size());
      header[1] = fresh->empty() && batcher_->idle() && prefetcher_->exhausted();
    }
    if (tp_.size() > 1) tp_.BroadcastHost(header, sizeof(header), 0);
    if (header[1]) return true;
    const int n = static_cast<int>(header[0]);
    std::vector<int64_t> items(2 * n);
    if (leader_) {
      for (int i = 0; i < n; ++i) {
        items[2 * i] = (*fresh)[i].index;
        items[2 * i + 1] = (*fresh)[i].ok;
      }
    }
    if (tp_.size() > 1 && n > 0) tp_.BroadcastHost(items.data(), items.size() * sizeof(int64_t), 0);
    if (!leader_) {
      fresh->resize(n);
      for (int i = 0; i < n; ++i) {
        (*fresh)[i].index = items[2 * i];
        (*fresh)[i].ok = items[2 * i + 1] != 0;
      }
    }
    return false;
  }

  // The items of a job: its group in multi-prompt jobs, else the job's own index.
  std::vector<int64_t> ItemsOf(int64_t key) const {
    if (!o_.groups) return {key};
    auto it = o_.groups->find(key);
    PG_CHECK(it != o_.groups->end(), "caption: job " << key << " has no item group");
    return it->second;
  }
  const std::string& PromptOf(int64_t item) const {
    return o_.item_prompts ? o_.item_prompts->at(static_cast<size_t>(item)) : o_.prompt;
  }
  const std::string* RecordedPrompt(int64_t item) const { return o_.item_prompts ? &PromptOf(item) : nullptr; }
  // Prompt token ids, built once per distinct prompt.
  const std::vector<int>& PromptIds(const std::string& prompt) {
    auto it = prompt_ids_.find(prompt);
    if (it == prompt_ids_.end()) it = prompt_ids_.emplace(prompt, tok_.BuildPrompt(prompt)).first;
    return it->second;
  }

  // Error records for failed images; the good ones through the ViT into the batcher.
  void Admit(std::vector<PreparedImage>& fresh) {
    const ModelConfig& c = model_.config();
    const size_t per_image = static_cast<size_t>(c.vision.image_size) * c.vision.image_size * 3;
    std::vector<float> pixels;  // [k, S, S, 3]
    std::vector<int64_t> ids;
    for (PreparedImage& im : fresh) {
      if (!im.ok) {
        if (leader_) {
          for (int64_t item : ItemsOf(im.index)) {
            pending_lines_.push_back(ErrorRecordLine(im.path, item, im.error, RecordedPrompt(item)));
            ++stats_.images;
            ++stats_.errors;
          }
        }
        continue;
      }
      ids.push_back(im.index);
      if (leader_) {
        PG_CHECK(im.pixels.size() == per_image, "image '" << im.path << "': " << im.pixels.size()
                                                          << " preprocessed values, expected " << per_image);
        pixels.insert(pixels.end(), im.pixels.begin(), im.pixels.end());
        for (int64_t item : ItemsOf(im.index))
          inflight_[item] = InFlight{im.path, im.width, im.height, RecordedPrompt(item)};
      }
      im.pixels.clear();
    }
    const int k = static_cast<int>(ids.size());
    if (k == 0) return;
    if (o_.vit == VitPlacement::kSharded && tp_.size() > 1) {
      pixels.resize(per_image * k);
      tp_.BroadcastHost(pixels.data(), pixels.size() * sizeof(float), 0);
    }
    FaultPoint("caption vit");
    const double t0 = Now();
    // tokens: [k, Np, D] on the backend of every rank (no host round trip with CUDA)
    const Tensor tokens = EncodeImagesForGroupOnBackend(model_, o_.vit, pixels, k);
    stats_.vit_s += Now() - t0;
    const int64_t Np = c.num_image_tokens();
    for (int i = 0; i < k; ++i) {
      for (int64_t item : ItemsOf(ids[i])) {  // one sequence per prompt of the image
        GenerationInput in;
        in.image_tokens_on_backend = tokens.RowSlice(Np * i, Np);  // shares the storage
        in.text_ids = PromptIds(PromptOf(item));
        in.seq_id = item;
        batcher_->Submit(std::move(in));
      }
    }
  }

  // Leader: records for the finished sequences (and the errors admitted this iteration).
  void Record(const std::vector<SequenceResult>& done) {
    const int eos = model_.config().tokens.eos;
    for (const SequenceResult& r : done) {
      auto it = inflight_.find(r.id);
      PG_CHECK(it != inflight_.end(), "caption: finished sequence " << r.id << " was never admitted");
      CaptionResult cr;
      cr.image = it->second.path;
      cr.index = r.id;
      cr.prompt = it->second.prompt;
      cr.hit_eos = r.hit_eos;
      cr.tokens = static_cast<int64_t>(r.tokens.size()) - (!r.tokens.empty() && r.tokens.back() == eos ? 1 : 0);
      cr.text = tok_.Decode(r.tokens);
      cr.with_scores = o_.scores;
      cr.token_logprobs = r.logprobs;
      AddSegmentFields(PromptOf(r.id), it->second.width, it->second.height, segment_out_, &cr);
      pending_lines_.push_back(OkRecordLine(cr));
      ++stats_.images;
      stats_.tokens += cr.tokens;
      inflight_.erase(it);
    }
    if (!pending_lines_.empty()) {
      FaultPoint("caption record");
      writer_->Commit(pending_lines_);
      pending_lines_.clear();
    }
  }

  PaliGemma& model_;
  const Tokenizer& tok_;
  Communicator& tp_;
  const ReplicaOptions o_;
  const bool leader_;
  std::map<std::string, std::vector<int>> prompt_ids_;
  std::unique_ptr<ContinuousBatcher> batcher_;
  std::unique_ptr<MaskDecoder> mask_decoder_;
  SegmentOutput segment_out_;
  std::unique_ptr<ImagePrefetcher> prefetcher_;
  std::unique_ptr<PartWriter> writer_;
  std::map<int64_t, InFlight> inflight_;
  std::vector<std::string> pending_lines_;
  ReplicaStats stats_;
};

CaptionReplica::CaptionReplica(PaliGemma& model, const Tokenizer& tokenizer, Communicator& tp_control,
                               const ReplicaOptions& options)
    : impl_(std::make_unique<Impl>(model, tokenizer, tp_control, options)) {}

CaptionReplica::~CaptionReplica() = default;

ReplicaStats CaptionReplica::Run(const std::vector<PrefetchJob>& jobs, const std::string& part_path) {
  return impl_->Run(jobs, part_path);
}

}  // namespace pg
