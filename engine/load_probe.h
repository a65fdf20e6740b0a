// paligemma load: opens the checkpoint and loads this rank's weights exactly as every job does
// (LoadModelOnRank), then reports per rank what it cost: wall seconds (open + validate, load),
// the bytes of the weights as the backend holds them, and the resident set from
// /proc/self/status before the load, after it, and its peak (VmHWM). The numbers behind the
// "peak RSS <= 1.15x the weight bytes" goal of issues 14 and 15 (docs/BENCHMARKS.md,
// scripts/load_memory.sh).
#pragma once

#include <cstdint>
#include <string>

#include "engine/model_session.h"

namespace pg {

struct LoadProbe {
  int world_rank = 0, tp_rank = 0;
  std::string weight_dtype;  // as held ("f32" / "bf16" for the matrices)
  double open_s = 0, load_s = 0;
  int64_t weight_bytes = 0;
  int64_t rss_before = 0, rss_after = 0, hwm = 0;  // bytes
};

// VmRSS / VmHWM of this process in bytes (0 when /proc is unavailable).
int64_t ProcStatusBytes(const char* field);

// Collective over MPI_COMM_WORLD (world = dp x tp with --tp). Returns this rank's figures and
// prints one line per rank (in rank order, from world rank 0), e.g.
//   load rank=0 tp_rank=0 dtype=bf16 open_s=0.41 load_s=3.20 weight_bytes=5848036352 weights=5.848GB rss_before=0.10GB
//        rss_after=5.96GB hwm=5.97GB hwm/weights=1.020 (hwm-rss_before)/weights=1.003
LoadProbe RunLoadProbe(const SessionOptions& options);

}  // namespace pg
