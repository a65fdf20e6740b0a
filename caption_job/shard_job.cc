#include "caption_job/shard_job.h"

#include "dist/interrupt.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <iomanip>
#include <memory>
#include <sstream>

#include "caption_job/caption_job_setup.h"
#include "caption_job/caption_replica.h"
#include "caption_job/manifest.h"
#include "caption_job/progress.h"
#include "caption_job/shard_list.h"
#include "caption_job/shard_output.h"
#include "caption_job/shard_samples.h"
#include "dist/abort.h"
#include "dist/error_agreement.h"
#include "dist/interrupt.h"
#include "runtime/dtype.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

constexpr double kFinalBarrierTimeoutS = 24 * 3600;  // as caption_job.cc: waits for the slowest replica

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// World rank 0's view of the job.
struct ShardPlan {
  std::vector<std::string> shards;  // the selected range, in list order
  std::vector<uint8_t> done;        // [shards]: the output exists
  int64_t listed = 0;               // shards in the whole list
  ShardRange range;
};

Manifest ShardManifest(const CaptionJobOptions& a, const ModelSession& s) {
  Manifest m = BuildManifest(JobSpecFromOptions(a, s));  // images: none (the shard list may differ between array elements)
  m.Set("input", "tar shards");
  m.Set("keep_meta", a.shard.keep_meta ? "true" : "false");
  return m;
}

void PrepareShardJob(const CaptionJobOptions& a, const ModelSession& s, ShardPlan* plan) {
  CheckCaptionPromptFits(s.checkpoint->config(), *s.tokenizer, a.prompt, a.max_new_tokens);
  const std::vector<std::string> all = ListShards(a.shard.shards);
  plan->listed = static_cast<int64_t>(all.size());
  plan->range = ParseShardRange(a.shard.range, plan->listed);
  plan->shards.assign(all.begin() + plan->range.begin, all.begin() + plan->range.end);
  std::vector<std::string> missing;
  for (const std::string& sh : plan->shards)
    if (!fs::is_regular_file(sh)) missing.push_back(sh);
  if (!missing.empty()) {
    std::ostringstream os;
    os << "--shards '" << a.shard.shards << "': " << missing.size() << " of the " << plan->shards.size()
       << " selected shards are not files:";
    for (size_t i = 0; i < missing.size() && i < 5; ++i) os << " '" << missing[i] << "'";
    if (missing.size() > 5) os << " ...";
    PG_THROW(os.str());
  }
  const std::string state = ShardStateDir(a.shard.output_dir);
  try {
    fs::create_directories(state);
  } catch (const fs::filesystem_error& e) {
    PG_THROW("--output-dir '" << a.shard.output_dir << "': cannot create '" << e.path1().string()
                              << "': " << e.code().message());
  }
  const std::string manifest_path = (fs::path(state) / "manifest.json").string();
  if (a.restart) {
    for (const std::string& sh : plan->shards) {
      fs::remove(ShardOutputPath(a.shard.output_dir, sh));
      fs::remove(ShardPartPath(a.shard.output_dir, sh));
    }
    fs::remove(manifest_path);
  }
  const ShardLock manifest_lock((fs::path(state) / "manifest.lock").string(), "the manifest", /*wait=*/true);
  CheckOrWriteManifest(manifest_path, ShardManifest(a, s));
  for (const std::string& sh : plan->shards) plan->done.push_back(fs::exists(ShardOutputPath(a.shard.output_dir, sh)));
}

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

// One prefetch job per sample: its bytes, or the error that makes it an error record.
std::vector<PrefetchJob> SampleJobs(const ShardContents& c) {
  std::vector<PrefetchJob> jobs(c.samples.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].index = static_cast<int64_t>(i);
    jobs[i].path = SampleDisplayName(c, i);
    jobs[i].bytes = c.samples[i].image;
    jobs[i].error = c.samples[i].error;
  }
  return jobs;
}

// Totals over this replica's shards (meaningful on the leader).
struct ShardTotals {
  int64_t shards = 0, records = 0, errors = 0, images = 0, tokens = 0;
  int interrupted_by = 0;  // the signal that stopped the replica inside a shard (not written)
};

// The replica's loop over its shards; collective over the tp group.
ShardTotals CaptionShards(const CaptionJobOptions& a, ModelSession& s, CaptionReplica& replica,
                          const std::vector<std::string>& mine) {
  Communicator& tp = s.world->tp_group();
  const bool leader = tp.rank() == 0;
  const std::string& out_dir = a.shard.output_dir;
  const TarReadOptions tar_options;
  std::future<ShardContents> next;  // leader: the next shard, read ahead
  ShardTotals t;
  ReplicaStats before;
  for (size_t i = 0; i < mine.size(); ++i) {
    const std::string& shard = mine[i];
    const std::string output = ShardOutputPath(out_dir, shard), part = ShardPartPath(out_dir, shard);
    const std::string lock_path = part.substr(0, part.size() - 5) + ".lock";
    ShardContents c;
    std::unique_ptr<ShardLock> lock;
    std::vector<PrefetchJob> jobs;
    int64_t skip = 0;
    const double t0 = Now();
    AgreePhase(tp, "open shard '" + shard + "'", [&] {
      if (!leader) return;
      lock = std::make_unique<ShardLock>(lock_path, "shard '" + shard + "'");
      skip = fs::exists(output);  // written by another job since this one started
      if (next.valid()) c = next.get();
      else if (!skip) c = ReadShard(shard, tar_options);
      if (i + 1 < mine.size()) next = std::async(std::launch::async, ReadShard, mine[i + 1], tar_options);
      fs::remove(part);  // an interrupted earlier attempt: the shard is redone from its start
      jobs = SampleJobs(c);
    });
    if (tp.size() > 1) tp.BroadcastHost(&skip, sizeof(skip), 0);
    if (skip) {
      if (leader) fs::remove(lock_path);
      continue;
    }
    const ReplicaStats st = replica.Run(jobs, part);
    if (st.interrupted_by != 0) {  // the group agreed to stop: this shard is redone by a rerun
      t.interrupted_by = st.interrupted_by;
      if (leader) fs::remove(lock_path);
      break;
    }
    AgreePhase(tp, "write the output of shard '" + shard + "'", [&] {
      if (!leader) return;
      const ShardOutputStats o = WriteShardOutput(part, c, a.shard.keep_meta, output);
      fs::remove(lock_path);
      ++t.shards;
      t.records += o.records;
      t.errors += o.errors;
      t.images += st.images - before.images;
      t.tokens += st.tokens - before.tokens;
      std::ostringstream os;
      os << "caption: shard " << shard << " -> " << output << ": " << o.records << " records (" << o.errors
         << " error" << (o.errors == 1 ? "" : "s") << ") in " << std::fixed << std::setprecision(1) << Now() - t0
         << " s";
      if (!c.damage.empty()) os << "; damaged: " << c.damage;
      WriteStderrLine(os.str());
    });
    before = st;
  }
  if (next.valid()) next.wait();
  return t;
}

}  // namespace

void RunShardCaptionJob(const CaptionJobOptions& a, ModelSession& s) {
  const WorldConfig& w = s.world->config();
  Communicator& all = s.world->world();
  const bool rank0 = s.is_world_leader();
  ShardPlan plan;
  AgreePhase(all, "prepare the shard job", [&] {
    if (rank0) PrepareShardJob(a, s, &plan);
  });
  plan.shards = BroadcastList(all, plan.shards);
  plan.done.resize(plan.shards.size());
  if (!plan.done.empty()) all.BroadcastHost(plan.done.data(), plan.done.size(), 0);
  std::vector<std::string> mine;
  int64_t pending = 0;
  for (size_t i = 0; i < plan.shards.size(); ++i)
    if (!plan.done[i] && pending++ % w.dp == w.dp_rank) mine.push_back(plan.shards[i]);
  if (rank0) {
    std::ostringstream os;
    os << "caption: " << plan.shards.size() << " shards";
    if (!a.shard.range.empty())
      os << " (--shard-range " << a.shard.range << ": " << plan.range.begin << ".." << plan.range.end << " of "
         << plan.listed << ")";
    os << ", " << plan.shards.size() - pending << " already written in " << a.shard.output_dir << ", " << pending
       << " to caption on " << w.dp << " replica" << (w.dp == 1 ? "" : "s") << " x --tp " << w.tp << ", batch "
       << a.batch;
    WriteStderrLine(os.str());
  }
  if (pending == 0) return;

  std::unique_ptr<CaptionReplica> replica;
  AgreePhase(all, "allocate the KV cache", [&] {
    const ReplicaOptions ro = MakeReplicaOptions(a, s.model->config(), a.batch);
    CheckBatchMemory(a, s, ro, ro.prefetch.capacity);
    replica = std::make_unique<CaptionReplica>(*s.model, *s.tokenizer, s.world->tp_group(), ro);
  });
  const double t0 = Now();
  // SIGINT/SIGTERM: each replica stops at its next engine step; finished shard outputs stay,
  // the shards in progress are redone from their start by the same command (exit 128 + sig).
  // Kept through the reductions below, where a finished replica waits for the others.
  ScopedInterruptHandlers interrupt_handlers;
  const ShardTotals mine_done = CaptionShards(a, s, *replica, mine);
  all.SetCollectiveTimeout(std::max(all.collective_timeout(), kFinalBarrierTimeoutS));
  const bool leader = w.tp_rank == 0;
  ShardTotals t;
  t.shards = all.AllReduceSumInt64(leader ? mine_done.shards : 0);
  t.records = all.AllReduceSumInt64(leader ? mine_done.records : 0);
  t.errors = all.AllReduceSumInt64(leader ? mine_done.errors : 0);
  t.images = all.AllReduceSumInt64(leader ? mine_done.images : 0);
  t.tokens = all.AllReduceSumInt64(leader ? mine_done.tokens : 0);
  const double elapsed = Now() - t0;
  if (const int sig = static_cast<int>(all.AllReduceMaxInt64(mine_done.interrupted_by)); sig != 0) {
    std::ostringstream os;
    os << "caption: interrupted by " << SignalName(sig) << ": " << t.shards << " shard outputs written this run in "
       << a.shard.output_dir << "; run the same command again to resume (the shards in progress are redone from "
       << "their start)";
    if (rank0) WriteStderrLine(os.str());
    throw Interrupted(sig, os.str());
  }
  AgreePhase(all, "summarise the shard job", [&] {
    if (!rank0) return;
    std::ostringstream os;
    os << "caption: wrote " << t.shards << " shard outputs in " << a.shard.output_dir << ": " << t.records
       << " records (" << t.records - t.errors << " ok, " << t.errors << " error" << (t.errors == 1 ? "" : "s")
       << "); this run: " << t.images << " images, " << t.tokens << " tokens in " << FormatDuration(elapsed) << " ("
       << std::fixed << std::setprecision(1) << (elapsed > 0 ? t.images / elapsed : 0.0) << " images/s, "
       << (elapsed > 0 ? t.tokens / elapsed : 0.0) << " tokens/s)";
    WriteStderrLine(os.str());
    PG_CHECK(t.records == 0 || t.errors < t.records,
             "caption: every one of the " << t.records << " records failed; see the error records in "
                                          << a.shard.output_dir);
  });
}

}  // namespace pg
