#include "engine/load_probe.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "dist/error_agreement.h"
#include "models/weight_table.h"

namespace pg {
namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Line(const LoadProbe& p) {
  const double gb = 1e9, w = p.weight_bytes > 0 ? static_cast<double>(p.weight_bytes) : 1.0;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "load rank=%d tp_rank=%d dtype=%s open_s=%.2f load_s=%.2f weight_bytes=%lld weights=%.3fGB rss_before=%.3fGB "
                "rss_after=%.3fGB hwm=%.3fGB hwm/weights=%.3f (hwm-rss_before)/weights=%.3f",
                p.world_rank, p.tp_rank, p.weight_dtype.c_str(), p.open_s, p.load_s, static_cast<long long>(p.weight_bytes),
                p.weight_bytes / gb,
                p.rss_before / gb, p.rss_after / gb, p.hwm / gb, p.hwm / w, (p.hwm - p.rss_before) / w);
  return buf;
}

}  // namespace

int64_t ProcStatusBytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') {
      std::istringstream v(line.substr(n + 1));
      int64_t kib = 0;
      v >> kib;
      return kib * 1024;
    }
  return 0;
}

LoadProbe RunLoadProbe(const SessionOptions& o) {
  World world = World::Create(o.tp);
  Communicator& all = world.world();
  LoadProbe p;
  p.world_rank = world.config().world_rank;
  p.tp_rank = world.config().tp_rank;
  std::unique_ptr<CheckpointReader> ckpt;
  auto t0 = std::chrono::steady_clock::now();
  AgreePhase(all, "open checkpoint", [&] {
    ckpt = std::make_unique<CheckpointReader>(o.model_path);
    CheckTensorParallel(ckpt->config(), o.tp);
  });
  p.open_s = Seconds(t0);
  p.weight_dtype = DTypeName(ResolveWeightDtype(o.weight_dtype, ckpt->dtype()));
  p.rss_before = ProcStatusBytes("VmRSS");
  ModelOnRank m;
  t0 = std::chrono::steady_clock::now();
  AgreePhase(all, "load weights", [&] {
    m = LoadModelOnRank(*ckpt, world.tp_group(), p.tp_rank, o, world.config().local_rank);
  });
  p.load_s = Seconds(t0);
  p.weight_bytes = static_cast<int64_t>(m.model->weight_bytes());
  p.rss_after = ProcStatusBytes("VmRSS");
  p.hwm = ProcStatusBytes("VmHWM");
  // Rank order: each rank broadcasts its line in turn; world rank 0 prints them.
  const std::string mine = Line(p);
  for (int r = 0; r < all.size(); ++r) {
    char line[512] = {0};
    if (r == all.rank()) std::snprintf(line, sizeof line, "%s", mine.c_str());
    all.BroadcastHost(line, sizeof line, r);
    if (all.rank() == 0) std::printf("%s\n", line);
  }
  std::fflush(stdout);
  return p;
}

}  // namespace pg
