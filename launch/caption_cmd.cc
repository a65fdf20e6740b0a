// paligemma caption: large-batch offline captioning of a directory or list of images into
// JSON Lines, resumable, over a [dp, tp] world (mpirun -np dp*tp ... --tp tp).
//
//   mpirun -np 4 paligemma caption --model M.h5 --tokenizer T.model --images DIR --tp 2 \
//       --output OUT.jsonl
//
// Work split: the sorted, deduplicated input list (caption_job/image_list.h) minus the images
// already recorded in OUT.jsonl.parts/ is dealt round-robin over the dp replicas (pending item
// j goes to replica j % dp), so replicas get the same amount of work whatever was done before.
// Each replica's leader appends its records to OUT.jsonl.parts/part-<dp_rank>.jsonl; world
// rank 0 merges them into OUT.jsonl (atomic rename) with one record per image in input order.
// See caption_job/part_files.h (resume), caption_job/manifest.h (what must not change on resume),
// caption_job/caption_record.h (the record), caption_job/caption_replica.h (the per-group protocol).
//
// With no --model / --tokenizer / --images / --output, the embedded demo is used
// (caption_job/pg_home.h): PG_HOME/build/demo_model.h5, PG_HOME/assets/tokenizer/tiny.model,
// PG_HOME/assets/images, ./out/captions.jsonl; PG_HOME defaults to the directory two levels
// above the executable (build/paligemma -> the repository). scripts/demo.sh prepares it.
//
// Debug hook for the kill/resume tests: PG_DEBUG_CAPTION_STEP_DELAY_MS=N sleeps N ms after
// every engine iteration, so that a job can be killed mid-run.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <sstream>

#include "dist/abort.h"
#include "dist/error_agreement.h"
#include "launch/commands.h"
#include "launch/model_session.h"
#include "launch/sampling_flags.h"
#include "caption_job/caption_replica.h"
#include "caption_job/image_list.h"
#include "caption_job/json_text.h"
#include "caption_job/manifest.h"
#include "caption_job/part_files.h"
#include "caption_job/pg_home.h"
#include "caption_job/progress.h"
#include "runtime/dtype.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

// The final barrier waits for the slowest replica; a replica that really hangs is caught by
// its own tensor-parallel collectives' deadlines, so this one may be long.
constexpr double kFinalBarrierTimeoutS = 24 * 3600;

struct CaptionArgs {
  SessionOptions session;
  std::string images, output, prompt = "caption en";
  std::string resize = "bilinear", vit = "leader", progress = "auto";
  int batch = 16, max_new_tokens = 40, decode_threads = 2, prefetch = 0;
  int64_t max_image_pixels = int64_t{64} << 20;
  double progress_every_s = 5;
  bool restart = false, verbose = false;
  SamplingParams sampling;
  std::vector<std::string> defaulted;  // which inputs came from the embedded demo
};

void ApplyDemoDefaults(CaptionArgs& a) {
  const std::string home = PgHome();
  const DemoDefaults d = DemoDefaultsFor(home);
  auto fill = [&](std::string& v, const std::string& def, const char* what) {
    if (!v.empty()) return;
    v = def;
    a.defaulted.push_back(std::string(what) + " " + def);
  };
  const bool model_defaulted = a.session.model_path.empty();
  fill(a.session.model_path, d.model, "--model");
  fill(a.session.tokenizer_path, d.tokenizer, "--tokenizer");
  fill(a.images, d.images, "--images");
  fill(a.output, d.output, "--output");
  PG_CHECK(!model_defaulted || fs::exists(a.session.model_path),
           "no --model given and the demo model '" << a.session.model_path << "' does not exist (PG_HOME="
               << home << "); run scripts/demo.sh (it converts assets/demo_model) or pass --model and --tokenizer");
}

void CheckArgs(const CaptionArgs& a) {
  PG_CHECK(a.batch >= 1, "--batch must be >= 1, got " << a.batch);
  PG_CHECK(a.max_new_tokens >= 1, "--max-new-tokens must be >= 1, got " << a.max_new_tokens);
  PG_CHECK(a.decode_threads >= 1, "--decode-threads must be >= 1, got " << a.decode_threads);
  PG_CHECK(a.prefetch >= 0, "--prefetch must be >= 0, got " << a.prefetch);
  PG_CHECK(a.max_image_pixels >= 1, "--max-image-pixels must be >= 1, got " << a.max_image_pixels);
  PG_CHECK(a.progress_every_s > 0, "--progress-every must be > 0, got " << a.progress_every_s);
  CheckUtf8(a.prompt, "--prompt");
  a.sampling.Validate();
  ParseResizeFilter(a.resize);
  ParseProgressMode(a.progress);
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
  std::vector<std::string> images;
  std::vector<uint8_t> done;
  std::unique_ptr<PartsDirLock> lock;
  std::unique_ptr<ProgressReporter> progress;
  PartScan scan;
};

void PrepareJob(const CaptionArgs& a, const ModelSession& s, const std::string& parts_dir, JobState* job) {
  CheckCaptionPromptFits(s.checkpoint->config(), *s.tokenizer, a.prompt, a.max_new_tokens);
  job->images = ListImages(a.images);
  const fs::path out_dir = fs::path(a.output).parent_path();
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
  spec.max_image_pixels = a.max_image_pixels;
  spec.images = job->images;
  CheckOrWriteManifest(manifest_path, BuildManifest(spec));
  job->scan = ScanPartFiles(parts_dir, job->images, /*repair=*/true);
  job->done = job->scan.done;
  job->progress = std::make_unique<ProgressReporter>(parts_dir, static_cast<int64_t>(job->images.size()),
                                                     job->scan.records, ParseProgressMode(a.progress),
                                                     a.progress_every_s);
}

ReplicaOptions MakeReplicaOptions(const CaptionArgs& a, const ModelConfig& c) {
  ReplicaOptions ro;
  ro.prompt = a.prompt;
  ro.batch = a.batch;
  ro.max_new_tokens = a.max_new_tokens;
  ro.sampling = a.sampling;
  ro.vit = ParseVitPlacement(a.vit);
  ro.prefetch.threads = a.decode_threads;
  ro.prefetch.capacity = a.prefetch > 0 ? a.prefetch : std::max(4, 2 * a.batch);
  ro.prefetch.image_size = c.vision.image_size;
  ro.prefetch.filter = ParseResizeFilter(a.resize);
  ro.prefetch.decode.max_pixels = a.max_image_pixels;
  if (const char* ms = std::getenv("PG_DEBUG_CAPTION_STEP_DELAY_MS")) ro.step_delay_s = std::atof(ms) / 1000.0;
  return ro;
}

void Run(CaptionArgs a) {
  ApplyDemoDefaults(a);
  CheckSameOnEveryRank([&] { CheckArgs(a); });
  ModelSession s = ModelSession::Open(a.session);
  const WorldConfig& w = s.world->config();
  Communicator& all = s.world->world();
  const bool rank0 = s.is_world_leader();
  const std::string parts_dir = PartsDirFor(a.output);

  JobState job;
  AgreePhase(all, "prepare the caption job", [&] {
    if (rank0) PrepareJob(a, s, parts_dir, &job);
  });
  job.images = BroadcastList(all, job.images);
  job.done.resize(job.images.size());
  all.BroadcastHost(job.done.data(), job.done.size(), 0);

  // Pending images dealt round-robin over the replicas.
  std::vector<PrefetchJob> mine;
  int64_t pending = 0;
  for (size_t i = 0; i < job.images.size(); ++i) {
    if (job.done[i]) continue;
    if (pending++ % w.dp == w.dp_rank) mine.push_back(PrefetchJob{static_cast<int64_t>(i), job.images[i]});
  }
  if (rank0) {
    for (const std::string& d : a.defaulted) WriteStderrLine("caption: embedded demo default " + d);
    std::ostringstream os;
    os << "caption: " << job.images.size() << " images, " << job.scan.records << " already recorded in "
       << parts_dir << "/";
    if (job.scan.repaired_files > 0)
      os << " (cut a torn last line: " << job.scan.repaired_bytes << " bytes in " << job.scan.repaired_files
         << " file" << (job.scan.repaired_files == 1 ? "" : "s") << ")";
    os << ", " << pending << " to caption on " << w.dp << " replica" << (w.dp == 1 ? "" : "s") << " x --tp "
       << w.tp << ", batch " << a.batch;
    WriteStderrLine(os.str());
  }

  std::unique_ptr<CaptionReplica> replica;
  AgreePhase(all, "allocate the KV cache", [&] {
    replica = std::make_unique<CaptionReplica>(*s.model, *s.tokenizer, s.world->tp_group(),
                                               MakeReplicaOptions(a, s.model->config()));
  });
  if (rank0) job.progress->Start();
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
  AgreePhase(all, "merge the part files", [&] {
    if (!rank0) return;
    const ProgressSnapshot p = job.progress->Stop();
    const MergeStats m = MergePartFiles(parts_dir, job.images, a.output);
    std::ostringstream os;
    os << "caption: wrote " << a.output << ": " << m.records << " records (" << m.records - m.errors << " ok, "
       << m.errors << " error" << (m.errors == 1 ? "" : "s") << "); this run: " << p.done_now << " images, "
       << p.tokens << " tokens in " << FormatDuration(p.elapsed_s) << " (" << std::fixed << std::setprecision(1)
       << (p.elapsed_s > 0 ? p.done_now / p.elapsed_s : 0.0) << " images/s, "
       << (p.elapsed_s > 0 ? p.tokens / p.elapsed_s : 0.0) << " tokens/s)";
    WriteStderrLine(os.str());
  });
}

}  // namespace

void RegisterCaptionCommand(CLI::App& app) {
  auto args = std::make_shared<CaptionArgs>();
  CLI::App* cmd = app.add_subcommand(
      "caption", "Caption a directory or list of images into JSON Lines (resumable; data x tensor parallel)");
  cmd->add_option("--model", args->session.model_path, "HDF5 checkpoint (default: PG_HOME/build/demo_model.h5)");
  cmd->add_option("--tokenizer", args->session.tokenizer_path,
                  "SentencePiece model (default: PG_HOME/assets/tokenizer/tiny.model)");
  cmd->add_option("--images", args->images,
                  "directory (recursive .jpg/.jpeg/.png), list file (one path per line) or one image "
                  "(default: PG_HOME/assets/images)");
  cmd->add_option("--output", args->output, "JSON Lines output (default: ./out/captions.jsonl)");
  cmd->add_option("--prompt", args->prompt, "prompt prefix: \"caption en\", \"detect cat\" (adds boxes), ...");
  cmd->add_option("--tp", args->session.tp, "tensor-parallel ranks per replica; replicas = world size / tp");
  cmd->add_option("--batch", args->batch, "sequences decoding at once per replica (continuous batching)");
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "generated tokens at most per image");
  cmd->add_option("--vit", args->vit, "leader (ViT on the group leader, broadcast) or sharded");
  cmd->add_option("--resize", args->resize, "bilinear (big_vision, antialiased) or bicubic (Hugging Face)");
  cmd->add_option("--threads", args->session.threads, "CPU threads per rank");
  cmd->add_option("--backend", args->session.backend, "cpu or cuda");
  cmd->add_option("--decode-threads", args->decode_threads, "image decoding threads on each replica leader");
  cmd->add_option("--prefetch", args->prefetch, "images decoded ahead per replica (default 2 x --batch)");
  cmd->add_option("--max-image-pixels", args->max_image_pixels, "larger images become error records");
  cmd->add_option("--progress", args->progress, "auto (bar on a TTY, else lines), bar, lines or off");
  cmd->add_option("--progress-every", args->progress_every_s, "seconds between progress lines");
  cmd->add_flag("--restart", args->restart, "discard the records of an earlier run of this --output");
  cmd->add_flag("--verbose", args->verbose, "per-replica timing summary");
  AddSamplingFlags(cmd, &args->sampling);
  cmd->callback([args] {
    args->session.vit = ParseVitPlacement(args->vit);
    Run(*args);
  });
}

}  // namespace pg
