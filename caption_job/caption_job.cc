#include "caption_job/caption_job.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <map>
#include <memory>
#include <sstream>

#include "dist/abort.h"
#include "dist/error_agreement.h"
#include "dist/interrupt.h"
#include "caption_job/caption_job_setup.h"
#include "caption_job/caption_replica.h"
#include "caption_job/device_batch.h"
#include "caption_job/image_list.h"
#include "caption_job/json_text.h"
#include "caption_job/manifest.h"
#include "caption_job/memory_estimate.h"
#include "caption_job/part_files.h"
#include "caption_job/pg_home.h"
#include "caption_job/progress.h"
#include "engine/request_file.h"
#include "caption_job/shard_job.h"
#include "models/gemma.h"
#include "runtime/dtype.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

// The final barrier waits for the slowest replica; a replica that really hangs is caught by
// its own tensor-parallel collectives' deadlines, so this one may be long.
constexpr double kFinalBarrierTimeoutS = 24 * 3600;

// Fills the inputs left empty with the embedded demo's; *defaulted names them.
void ApplyDemoDefaults(CaptionJobOptions& a, std::vector<std::string>* defaulted) {
  const std::string home = PgHome();
  const DemoDefaults d = DemoDefaultsFor(home);
  auto fill = [&](std::string& v, const std::string& def, const char* what) {
    if (!v.empty()) return;
    v = def;
    defaulted->push_back(std::string(what) + " " + def);
  };
  const bool model_defaulted = a.session.model_path.empty();
  fill(a.session.model_path, d.model, "--model");
  fill(a.session.tokenizer_path, d.tokenizer, "--tokenizer");
  if (a.requests.empty()) fill(a.images, d.images, "--images");
  fill(a.output, d.output, "--output");
  PG_CHECK(!model_defaulted || fs::exists(a.session.model_path),
           "no --model given and the demo model '" << a.session.model_path << "' does not exist (PG_HOME="
               << home << "); run scripts/demo.sh (it converts assets/demo_model) or pass --model and --tokenizer");
}

void CheckArgs(const CaptionJobOptions& a) {
  PG_CHECK(a.batch >= 1, "--batch must be >= 1, got " << a.batch);
  PG_CHECK(a.max_new_tokens >= 1, "--max-new-tokens must be >= 1, got " << a.max_new_tokens);
  PG_CHECK(a.decode_threads >= 1, "--decode-threads must be >= 1, got " << a.decode_threads);
  PG_CHECK(a.prefetch >= 0, "--prefetch must be >= 0, got " << a.prefetch);
  PG_CHECK(a.max_image_pixels >= 1, "--max-image-pixels must be >= 1, got " << a.max_image_pixels);
  PG_CHECK(a.progress_every_s > 0, "--progress-every must be > 0, got " << a.progress_every_s);
  CheckUtf8(a.prompt, "--prompt");
  for (const std::string& p : a.prompts) CheckUtf8(p, "--prompt");
  PG_CHECK(a.requests.empty() || a.prompts.size() <= 1,
           "--requests gives each image its prompts; several --prompt values cannot be combined with it");
  a.sampling.Validate();
  ParseResizeFilter(a.resize);
  ParseProgressMode(a.progress);
  ResolveWeightDtype(a.session.weight_dtype, DType::kF32);
}

// Paths joined with '\0' (which no path contains) for one broadcast.
std::vector<std::string> BroadcastList(Communicator& comm, const std::vector<std::string>& list) {
  std::string joined;
  if (comm.rank() == 0)
    for (const std::string& p : list) joined.append(p).push_back('\0');
  joined = comm.BroadcastString(joined, 0);
  std::vector<std::string> out;
  for (size_t start = 0, end; (end = joined.find('\0', start)) != std::string::npos; start = end + 1)
    out.push_back(joined.substr(start, end - start));
  return out;
}

// World rank 0's part of the setup: the list, the parts directory, the manifest, the scan.
struct JobState {
  std::vector<std::string> images;   // [items] the image of each item (record i is item i)
  std::vector<std::string> prompts;  // [items] each item's prompt; empty: every item has --prompt
  std::vector<std::string> skipped;  // directory entries not listed, "path: why"
  int64_t duplicates = 0;            // list lines repeating an earlier path
  std::vector<uint8_t> done;
  std::unique_ptr<PartsDirLock> lock;
  std::unique_ptr<ProgressReporter> progress;
  PartScan scan;
};

// World rank 0: what the listing did not turn into records, so nothing is dropped silently.
void ReportInputSummary(const JobState& job) {
  if (job.duplicates > 0)
    WriteStderrLine("caption: the list names " + std::to_string(job.duplicates) +
                    " path(s) again; each line gets its own record, in line order");
  if (job.skipped.empty()) return;
  constexpr size_t kShown = 20;
  WriteStderrLine("caption: skipped " + std::to_string(job.skipped.size()) + " directory entr" +
                  (job.skipped.size() == 1 ? "y" : "ies") + " that are not images or cannot be read:");
  for (size_t i = 0; i < job.skipped.size() && i < kShown; ++i) WriteStderrLine("  skipped " + job.skipped[i]);
  if (job.skipped.size() > kShown)
    WriteStderrLine("  ... and " + std::to_string(job.skipped.size() - kShown) + " more");
}

// --output must name a file we can create (checked before the job runs, not at the merge).
void CheckOutputPath(const std::string& output) {
  if (output == "-") return;  // standard output
  std::error_code ec;
  const std::string name = fs::path(output).filename().string();
  PG_CHECK(!name.empty() && name != "." && name != "..",
           "--output '" << output << "' names a directory, not a file; name the JSON Lines file to write, e.g. '"
                        << (fs::path(output) / "captions.jsonl").lexically_normal().string() << "', or - for standard output");
  PG_CHECK(!fs::is_directory(output, ec), "--output '" << output << "' is a directory; name the JSON Lines file to write, "
                                                              "e.g. '" << (fs::path(output) / "captions.jsonl").string()
                                                              << "', or - for standard output");
  PG_CHECK(!fs::exists(output, ec) || fs::is_regular_file(output, ec),
           "--output '" << output << "' exists and is not a regular file");
}

void PrepareJob(const CaptionJobOptions& a, const ModelSession& s, const std::string& parts_dir, JobState* job) {
  CheckOutputPath(a.output);
  if (!a.requests.empty()) {
    for (ImagePrompt& r : ReadRequestFile(a.requests, a.prompt)) {
      CheckUtf8(r.prompt, "--requests prompt");
      job->images.push_back(std::move(r.image));
      job->prompts.push_back(std::move(r.prompt));
    }
  } else {
    ImageListing listing = ListImageInputs(a.images);
    job->skipped = std::move(listing.skipped);
    job->duplicates = listing.duplicates;
    if (a.prompts.size() <= 1) {
      job->images = std::move(listing.images);
    } else {
      for (const std::string& image : listing.images)
        for (const std::string& p : a.prompts) {
          job->images.push_back(image);
          job->prompts.push_back(p);
        }
    }
  }
  std::vector<std::string> distinct = job->prompts.empty() ? std::vector<std::string>{a.prompt} : job->prompts;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (const std::string& p : distinct) CheckCaptionPromptFits(s.checkpoint->config(), *s.tokenizer, p, a.max_new_tokens);
  const fs::path out_dir = a.output == "-" ? fs::path() : fs::path(a.output).parent_path();
  try {
    if (!out_dir.empty()) fs::create_directories(out_dir);
    fs::create_directories(parts_dir);
  } catch (const fs::filesystem_error& e) {
    PG_THROW("--output '" << a.output << "': cannot create the directory '" << e.path1().string()
                          << "': " << e.code().message());
  }
  job->lock = std::make_unique<PartsDirLock>(parts_dir);
  const std::string manifest_path = (fs::path(parts_dir) / "manifest.json").string();
  if (a.restart) {
    for (const std::string& p : ListPartFiles(parts_dir)) fs::remove(p);
    fs::remove(manifest_path);
  }
  PG_CHECK(fs::exists(manifest_path) || ListPartFiles(parts_dir).empty(),
           "'" << parts_dir << "' holds part files but no manifest.json, so they cannot be checked against this job; "
                  "pass --restart to discard them or choose another --output");
  CaptionJobSpec spec = JobSpecFromOptions(a, s);
  spec.images = job->images;
  spec.item_prompts = job->prompts;
  CheckOrWriteManifest(manifest_path, BuildManifest(spec));
  job->scan = ScanPartFiles(parts_dir, job->images, /*repair=*/true);
  job->done = job->scan.done;
  job->progress = std::make_unique<ProgressReporter>(parts_dir, static_cast<int64_t>(job->images.size()),
                                                     job->scan.records, ParseProgressMode(a.progress),
                                                     a.progress_every_s);
}

}  // namespace

CaptionJobSpec JobSpecFromOptions(const CaptionJobOptions& a, const ModelSession& s) {
  CaptionJobSpec spec;
  spec.model_path = a.session.model_path;
  spec.model_config_json = s.checkpoint->config().ToJsonText();
  spec.model_dtype = DTypeName(s.checkpoint->dtype());
  spec.tokenizer_path = a.session.tokenizer_path;
  spec.prompt = a.prompt;
  spec.max_new_tokens = a.max_new_tokens;
  spec.sampling = a.sampling;
  spec.resize = a.resize;
  spec.backend = a.session.backend;
  if (a.session.backend == "cpu")
    spec.weight_dtype = DTypeName(ResolveWeightDtype(a.session.weight_dtype, s.checkpoint->dtype()));
  spec.max_image_pixels = a.max_image_pixels;
  spec.scores = a.scores;
  spec.exif_transpose = a.exif_transpose;
  spec.vae_path = a.vae;
  spec.masks_dir = a.masks_dir;
  return spec;
}

// slots: the KV-cache slots this replica uses (CaptionSlots: --batch capped by its images).
ReplicaOptions MakeReplicaOptions(const CaptionJobOptions& a, const ModelConfig& c, int slots) {
  ReplicaOptions ro;
  ro.prompt = a.prompt;  // item_prompts / groups: set by RunCaptionJob
  ro.batch = slots;
  ro.max_new_tokens = a.max_new_tokens;
  ro.sampling = a.sampling;
  ro.scores = a.scores;
  ro.vae = a.vae;
  ro.masks_dir = a.masks_dir;
  ro.vit = ParseVitPlacement(a.vit);
  ro.prefetch.threads = a.decode_threads;
  ro.prefetch.capacity = a.prefetch > 0 ? a.prefetch : std::max(4, 2 * slots);
  ro.prefetch.image_size = c.vision.image_size;
  ro.prefetch.filter = ParseResizeFilter(a.resize);
  ro.prefetch.decode.max_pixels = a.max_image_pixels;
  // HF mode (bicubic, SiglipImageProcessor) composites alpha onto white; big_vision drops it.
  ro.prefetch.decode.alpha_onto_white = ro.prefetch.filter == ResizeFilter::kBicubicPil;
  ro.prefetch.decode.exif_transpose = a.exif_transpose;
  if (const char* ms = std::getenv("PG_DEBUG_CAPTION_STEP_DELAY_MS")) ro.step_delay_s = std::atof(ms) / 1000.0;
  return ro;
}

// Refuses, before allocating, a --batch whose KV cache and workspaces do not fit this rank's
// share of the host's available memory (CPU backend; device memory is the CUDA backend's own).
void CheckBatchMemory(const CaptionJobOptions& a, ModelSession& s, const ReplicaOptions& ro, int64_t images) {
  if (a.session.backend != "cpu") return;
  const GemmaWeights& w = s.model->decoder().weights();
  const RankShapes r{w.heads_local, w.kv_heads_local, w.d_ff_local, static_cast<int>(w.embedding.dim(0))};
  const ModelConfig& c = s.model->config();
  const int64_t prefetch = std::min<int64_t>(ro.prefetch.capacity, images);
  const CaptionMemoryEstimate e = EstimateCaptionMemory(c, r, ro.batch, a.max_new_tokens, prefetch);
  const int64_t avail = HostMemAvailableBytes();
  const int64_t per_rank = avail < 0 ? -1 : avail / std::max(1, s.world->config().local_size);
  CheckCaptionMemoryFits(e, per_rank, a.batch, c, r, a.max_new_tokens, prefetch);
}

void RunCaptionJob(CaptionJobOptions a) {
  std::vector<std::string> defaulted;  // which inputs came from the embedded demo
  ApplyDemoDefaults(a, &defaulted);
  CheckSameOnEveryRank([&] { CheckArgs(a); });
  ModelSession s = ModelSession::Open(a.session);
  std::string batch_how;  // --batch not given: caption_job/device_batch.h
  a.batch = ResolveCaptionBatch(a.batch_given ? a.batch : 0, a.max_new_tokens, s, &batch_how);
  if (!batch_how.empty() && s.is_world_leader())
    WriteStderrLine("caption: --batch " + std::to_string(a.batch) + ": " + batch_how);
  if (!a.shard.shards.empty()) return RunShardCaptionJob(a, s);  // tar shards: caption_job/shard_job.h
  const WorldConfig& w = s.world->config();
  Communicator& all = s.world->world();
  const bool rank0 = s.is_world_leader();
  const std::string parts_dir = PartsDirFor(a.output);

  JobState job;
  AgreePhase(all, "prepare the caption job", [&] {
    if (rank0) PrepareJob(a, s, parts_dir, &job);
  });
  job.images = BroadcastList(all, job.images);
  job.prompts = BroadcastList(all, job.prompts);
  job.done.resize(job.images.size());
  all.BroadcastHost(job.done.data(), job.done.size(), 0);

  // Pending items grouped by image (in order of their first pending item), the groups dealt
  // round-robin over the replicas.
  const bool multi = !job.prompts.empty();
  std::vector<std::vector<int64_t>> groups;
  std::map<std::string, size_t> group_of;
  for (size_t i = 0; i < job.images.size(); ++i) {
    if (job.done[i]) continue;
    auto g = multi ? group_of.emplace(job.images[i], groups.size()).first : group_of.end();
    if (!multi || g->second == groups.size()) groups.emplace_back();
    groups[multi ? g->second : groups.size() - 1].push_back(static_cast<int64_t>(i));
  }
  const int64_t pending = static_cast<int64_t>(std::count(job.done.begin(), job.done.end(), 0));
  std::vector<PrefetchJob> mine;
  auto my_groups = std::make_shared<ItemGroups>();
  int64_t my_items = 0;
  for (size_t j = static_cast<size_t>(w.dp_rank); j < groups.size(); j += static_cast<size_t>(w.dp)) {
    mine.push_back(PrefetchJob{groups[j][0], job.images[groups[j][0]]});
    my_items += static_cast<int64_t>(groups[j].size());
    if (multi) (*my_groups)[groups[j][0]] = std::move(groups[j]);
  }
  const int slots = static_cast<int>(CaptionSlots(a.batch, my_items));
  if (rank0) {
    for (const std::string& d : defaulted) WriteStderrLine("caption: embedded demo default " + d);
    std::ostringstream os;
    os << "caption: " << job.images.size() << " images, " << job.scan.records << " already recorded in "
       << parts_dir << "/";
    if (job.scan.repaired_files > 0)
      os << " (cut a torn last line: " << job.scan.repaired_bytes << " bytes in " << job.scan.repaired_files
         << " file" << (job.scan.repaired_files == 1 ? "" : "s") << ")";
    os << ", " << pending << " to caption on " << w.dp << " replica" << (w.dp == 1 ? "" : "s") << " x --tp "
       << w.tp << ", batch " << slots;
    if (slots != a.batch) os << " (--batch " << a.batch << " capped by the images to caption)";
    WriteStderrLine(os.str());
    ReportInputSummary(job);
  }

  std::unique_ptr<CaptionReplica> replica;
  AgreePhase(all, "allocate the KV cache", [&] {
    ReplicaOptions ro = MakeReplicaOptions(a, s.model->config(), slots);
    if (multi) {
      ro.item_prompts = std::make_shared<const std::vector<std::string>>(job.prompts);
      ro.groups = my_groups;
    }
    CheckBatchMemory(a, s, ro, static_cast<int64_t>(mine.size()));
    replica = std::make_unique<CaptionReplica>(*s.model, *s.tokenizer, s.world->tp_group(), ro);
  });
  if (rank0) job.progress->Start();
  // From here a SIGINT/SIGTERM stops the job gracefully (dist/interrupt.h): each replica stops
  // between two engine steps with its finished records committed, and every rank exits 128+sig.
  ScopedInterruptHandlers interrupt_handlers;
  const ReplicaStats st = replica->Run(mine, PartFilePath(parts_dir, w.dp_rank));
  if (a.verbose && w.tp_rank == 0) {
    std::ostringstream os;
    os << RankTag() << " replica " << w.dp_rank << "/" << w.dp << ": " << st.images << " images (" << st.errors
       << " errors), " << st.tokens << " tokens, " << st.steps << " steps; waited " << st.wait_images_s
       << " s for images, ViT " << st.vit_s << " s, decoder " << st.step_s << " s";
    WriteStderrLine(os.str());
  }

  all.SetCollectiveTimeout(std::max(all.collective_timeout(), kFinalBarrierTimeoutS));
  all.Barrier();
  if (const int sig = static_cast<int>(all.AllReduceMaxInt64(st.interrupted_by)); sig != 0) {
    std::string message = "caption: interrupted by " + SignalName(sig);
    if (rank0) {
      const ProgressSnapshot p = job.progress->Stop();
      const PartScan now = ScanPartFiles(parts_dir, job.images, /*repair=*/false);
      std::ostringstream os;
      os << message << ": " << now.records << " of " << job.images.size() << " images are recorded in "
         << parts_dir << "/ (" << p.done_now << " this run; sequences in flight were dropped); "
         << "run the same command again to resume; "
         << (a.output == "-" ? std::string("the merged records go to standard output")
                             : a.output + " is written")
         << " when every image is done";
      message = os.str();
      WriteStderrLine(message);
    }
    throw Interrupted(sig, message);
  }
  AgreePhase(all, "merge the part files", [&] {
    if (!rank0) return;
    const ProgressSnapshot p = job.progress->Stop();
    const MergeStats m = MergePartFiles(parts_dir, job.images, a.output);
    std::ostringstream os;
    os << "caption: wrote " << (a.output == "-" ? std::string("standard output") : a.output) << ": " << m.records << " records (" << m.records - m.errors << " ok, "
       << m.errors << " error" << (m.errors == 1 ? "" : "s") << "); this run: " << p.done_now << " images, "
       << p.tokens << " tokens in " << FormatDuration(p.elapsed_s) << " (" << std::fixed << std::setprecision(1)
       << (p.elapsed_s > 0 ? p.done_now / p.elapsed_s : 0.0) << " images/s, "
       << (p.elapsed_s > 0 ? p.tokens / p.elapsed_s : 0.0) << " tokens/s)";
    WriteStderrLine(os.str());
    // A job that captioned nothing is a failure (a wrong --images, an unsupported format), even
    // though OUT.jsonl holds an error record for every image.
    PG_CHECK(m.records == 0 || m.errors < m.records,
             "caption: every one of the " << m.records << " images failed; see the error records in " << a.output);
  });
}

}  // namespace pg
