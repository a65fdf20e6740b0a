#include "bench/bench_driver.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "bench/bench_report.h"
#include "bench/kernel_timings.h"
#include "bench/machine_peaks.h"
#include "bench/machine_info.h"
#include "dist/error_agreement.h"
#include "models/checkpoint_reader.h"
#include "engine/generator.h"
#include "models/random_checkpoint.h"
#include "models/weight_table.h"
#include "caption_job/pg_home.h"
#include "engine/model_session.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

// Idle ranks wait at the end of a layout for as long as the active ones measure.
constexpr double kLayoutBarrierTimeoutS = 7 * 24 * 3600.0;

template <typename T>
bool Contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void Print(bool lead, const std::string& line) {
  if (!lead) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Column-wise median of rows of equal length.
std::vector<double> ColumnMedian(const std::vector<std::vector<double>>& rows) {
  std::vector<double> out(rows.at(0).size());
  for (size_t i = 0; i < out.size(); ++i) {
    std::vector<double> col;
    for (const auto& r : rows) col.push_back(r[i]);
    out[i] = Median(col);
  }
  return out;
}

// Why `tp` cannot shard `c` ("" if it can): the weight table's one divisibility check.
std::string ShardProblem(const ModelConfig& c, int tp) {
  try {
    CheckTensorParallel(c, tp, tp);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct Context {
  Context(const BenchOptions& options, MpiCommunicator& w) : o(options), world(w) {}
  const BenchOptions& o;
  MpiCommunicator& world;
  int local_rank = 0;
  int nproc = 1;
  std::string model_path;
  std::vector<std::string> images;
  std::vector<BenchRow> rows;
  std::vector<CollectiveRow> collectives;
  bool lead() const { return world.rank() == 0; }
};

BenchRow MeasureCase(Context& cx, BenchLayout& L, BenchRunner& runner, const BenchCase& c, const std::string& model,
                     const std::string& dtype, const std::string& vit, const std::string& scaling) {
  const BenchOptions& o = cx.o;
  BenchRow row;
  row.load_start = LoadAverage1m();
  row.date_utc = UtcNow();
  for (int i = 0; i < o.warmup; ++i) runner.Run(c);
  std::vector<std::vector<double>> maxes, means;
  std::vector<double> e2e;
  for (int i = 0; i < o.iters; ++i) {
    const std::vector<double> v = runner.Run(c).ToVector();
    maxes.push_back(MaxOverRanks(*L.active_comm, v));
    means.push_back(MeanOverRanks(*L.active_comm, v));
    e2e.push_back(PhaseTimes::FromVector(maxes.back()).e2e);
  }
  row.max = PhaseTimes::FromVector(ColumnMedian(maxes));
  row.mean = PhaseTimes::FromVector(ColumnMedian(means));
  row.e2e_min = *std::min_element(e2e.begin(), e2e.end());
  row.e2e_max = *std::max_element(e2e.begin(), e2e.end());
  row.load_end = LoadAverage1m();
  row.model = model;
  row.dtype = dtype;
  row.backend = o.backend;
  row.vit = vit;
  row.scaling = scaling;
  row.ranks = L.ranks;
  row.tp = L.tp;
  row.dp = L.dp;
  row.batch = c.batch;
  row.images = c.images;
  row.prompt_len = c.prompt_len;
  row.new_tokens = c.new_tokens;
  row.threads = o.threads;
  row.nproc = cx.nproc;
  row.warmup = o.warmup;
  row.iters = o.iters;
  return row;
}

void RunLayout(Context& cx, BenchLayout& L) {
  const BenchOptions& o = cx.o;
  std::unique_ptr<CheckpointReader> ckpt;
  ModelOnRank loaded;
  TimedCommunicator* timed = nullptr;
  AgreePhase(cx.world, "load the model for " + L.Label(), [&] {
    if (!L.active) return;
    ckpt = std::make_unique<CheckpointReader>(cx.model_path);
    SessionOptions so;
    so.backend = o.backend;
    so.weight_dtype = o.weight_dtype;
    so.threads = o.threads;
    so.vit = Contains(o.vit, std::string("sharded")) ? VitPlacement::kSharded : VitPlacement::kLeader;
    loaded = LoadModelOnRank(*ckpt, *L.tp_comm, L.tp_rank, so, cx.local_rank,
                             [&](Communicator& data_plane) -> std::unique_ptr<Communicator> {
                               if (L.tp == 1) return nullptr;
                               auto t = std::make_unique<TimedCommunicator>(data_plane);
                               timed = t.get();
                               return t;
                             });
  });
  PaliGemma* model = loaded.model.get();
  const double old_timeout = cx.world.collective_timeout();
  cx.world.SetCollectiveTimeout(std::max(old_timeout, kLayoutBarrierTimeoutS));
  if (L.active) {
    for (const CollectiveResult& r : SweepCollectives(L, o.collective_bytes, 3, o.collective_iters))
      if (cx.lead()) cx.collectives.push_back(CollectiveRow{L.ranks, L.tp, L.dp, r});
    const std::string name = model->config().name, dtype = DTypeName(ckpt->dtype());
    BenchRunner runner(*model, L, timed, cx.images);
    for (const std::string& vit : o.vit) {
      // At tp 1 both placements are the same run.
      if (L.tp == 1 && vit == "sharded" && Contains(o.vit, std::string("leader"))) continue;
      for (const std::string& scaling : o.scaling) {
        for (int batch : o.batch) {
          BenchCase c;
          c.batch = batch;
          c.images = scaling == "weak" ? o.images * L.ranks : o.images;
          c.vit = ParseVitPlacement(vit);
          c.prompt_len = o.prompt_len;
          c.new_tokens = o.new_tokens;
          c.seed = o.seed;
          c.full_logits = o.full_logits;
          BenchRow row = MeasureCase(cx, L, runner, c, name, dtype, vit, scaling);
          Print(cx.lead(), row.Summary());
          if (cx.lead()) cx.rows.push_back(row);
        }
      }
    }
  }
  cx.world.Barrier();
  cx.world.SetCollectiveTimeout(old_timeout);
}

nlohmann::json OptionsJson(const BenchOptions& o, const std::string& model_path) {
  return nlohmann::json{{"model", model_path},   {"config", o.config},         {"random_dtype", o.dtype},
                        {"seed", o.seed},        {"ranks", o.ranks},           {"tp", o.tp},
                        {"batch", o.batch},      {"scaling", o.scaling},       {"vit", o.vit},
                        {"images", o.images},    {"prompt_len", o.prompt_len}, {"new_tokens", o.new_tokens},
                        {"backend", o.backend},  {"threads", o.threads},       {"warmup", o.warmup},
                        {"iters", o.iters},      {"quick", o.quick},           {"images_source", o.image_source},
                        {"collective_bytes", o.collective_bytes}, {"collective_iters", o.collective_iters}};
}

}  // namespace

void BenchOptions::ApplyQuick(int world_size, const std::set<std::string>& given) {
  if (!quick) return;
  auto unset = [&](const char* flag) { return given.count(flag) == 0; };
  if (unset("--ranks")) {
    ranks.clear();
    for (int r : {1, 2, 4})
      if (r <= world_size) ranks.push_back(r);
  }
  if (unset("--tp")) tp = {1, 2, 4};
  if (unset("--batch")) batch = {1, 4};
  if (unset("--images")) images = 4;
  if (unset("--new-tokens")) new_tokens = 6;
  if (unset("--warmup")) warmup = 1;
  if (unset("--iters")) iters = 2;
  if (unset("--scaling")) scaling = {"strong", "weak"};
  if (unset("--collective-bytes")) collective_bytes = {256, 65536, 1 << 20};
  if (unset("--collective-iters")) collective_iters = 10;
}

void BenchOptions::Validate() const {
  PG_CHECK(model.empty() != config.empty(), "bench: give exactly one of --model M.h5 and --config C.json");
  PG_CHECK(dtype == "f32" || dtype == "bf16", "bench: --dtype must be f32 or bf16, got '" << dtype << "'");
  ResolveWeightDtype(weight_dtype, DType::kF32, "--weight-dtype");
  PG_CHECK(!ranks.empty() && !tp.empty() && !batch.empty() && !scaling.empty() && !vit.empty(),
           "bench: --ranks, --tp, --batch, --scaling and --vit need at least one value");
  for (int b : batch) PG_CHECK(b >= 1, "bench: --batch values must be >= 1, got " << b);
  for (const std::string& s : scaling)
    PG_CHECK(s == "strong" || s == "weak", "bench: --scaling must be strong and/or weak, got '" << s << "'");
  for (const std::string& v : vit) ParseVitPlacement(v);
  PG_CHECK(images >= 1, "bench: --images must be >= 1, got " << images);
  PG_CHECK(prompt_len >= 1, "bench: --prompt-len must be >= 1 (<bos>), got " << prompt_len);
  PG_CHECK(new_tokens >= 1, "bench: --new-tokens must be >= 1, got " << new_tokens);
  PG_CHECK(threads >= 1, "bench: --threads must be >= 1, got " << threads);
  PG_CHECK(warmup >= 0 && iters >= 1, "bench: --warmup must be >= 0 and --iters >= 1");
  PG_CHECK(collective_iters >= 1, "bench: --collective-iters must be >= 1");
  for (int64_t b : collective_bytes) PG_CHECK(b >= 4, "bench: --collective-bytes values must be >= 4, got " << b);
  PG_CHECK(!out.empty(), "bench: --out must name a directory");
}

void RunBench(const BenchOptions& o) {
  std::unique_ptr<MpiCommunicator> world = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  std::unique_ptr<MpiCommunicator> local = world->SplitSharedMemory("local");
  Context cx(o, *world);
  cx.local_rank = local->rank();
  cx.nproc = std::max(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  AgreePhase(*world, "check the options", [&] { o.Validate(); });
  MachineInfo machine;
  if (cx.lead()) {
    machine = CollectMachineInfo(world->size(), local->size(), o.threads);
    Print(true, machine.ToText());
    if (o.peaks) Print(true, MeasureMachinePeaks(o.threads).ToText());
    if (o.kernels) Print(true, MeasureKernelTimings(o.threads));
  }

  cx.model_path = o.model;
  if (!o.config.empty()) {
    const ModelConfig config = ModelConfig::FromFile(o.config);
    cx.model_path = (fs::path(o.out) / (".bench-random-" + config.name + "-" + o.dtype + ".h5")).string();
    AgreePhase(*world, "make the random model", [&] {
      if (!cx.lead()) return;
      fs::create_directories(o.out);
      RandomCheckpointOptions ro;
      ro.dtype = o.dtype == "bf16" ? DType::kBF16 : DType::kF32;
      ro.seed = o.seed;
      WriteRandomCheckpoint(config, cx.model_path, ro);
      Print(true, "# random model '" + config.name + "' (" + o.dtype + ", seed " + std::to_string(o.seed) +
                      ") written to " + cx.model_path);
    });
  }
  ModelConfig config;
  int skipped = 0;
  AgreePhase(*world, "open the model and the images", [&] {
    config = CheckpointReader(cx.model_path).config();
    CheckPromptFits(config, o.prompt_len, o.new_tokens);
    cx.images = DecodableImages(o.image_source.empty() ? DemoDefaultsFor(PgHome()).images : o.image_source,
                                &skipped);
  });
  Print(cx.lead(), "# model '" + config.name + "' from " + cx.model_path + "; " + std::to_string(cx.images.size()) +
                       " image files (" + std::to_string(skipped) + " undecodable skipped)");

  for (int ranks : o.ranks) {
    for (int tp : o.tp) {
      std::string why = LayoutProblem(world->size(), ranks, tp);
      if (why.empty()) why = ShardProblem(config, tp);
      if (!why.empty()) {
        Print(cx.lead(), "# skipped ranks " + std::to_string(ranks) + " tp " + std::to_string(tp) + ": " + why);
        continue;
      }
      BenchLayout layout = MakeBenchLayout(*world, ranks, tp);
      Print(cx.lead(), "# layout " + layout.Label() +
                           (ranks * o.threads > cx.nproc ? " (oversubscribed: more rank-threads than cores)" : ""));
      RunLayout(cx, layout);
    }
  }

  AgreePhase(*world, "write the results", [&] {
    if (!cx.lead()) return;
    nlohmann::json header{{"machine", machine.ToJson()}, {"options", OptionsJson(o, cx.model_path)},
                          {"model_config", config.ToJson()}};
    WriteBenchOutputs(o.out, o.append, header, cx.rows, cx.collectives);
    if (!o.config.empty() && !o.keep_model) fs::remove(cx.model_path);
    Print(true, "# wrote " + o.out + "/bench.csv (" + std::to_string(cx.rows.size()) + " rows), " + o.out +
                    "/collectives.csv, " + o.out + "/bench.json");
  });
}

}  // namespace pg
