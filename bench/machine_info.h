// What a benchmark ran on, for the header of its output and its JSON: host, cores, CPU model,
// memory, load average, the MPI library and world, and the exact command line.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace pg {

struct MachineInfo {
  std::string hostname;
  int nproc = 0;                 // online processors (sysconf), what the ranks share
  std::string cpu_model;         // first "model name" of /proc/cpuinfo
  double mem_total_gib = 0;      // MemTotal of /proc/meminfo
  std::string mpi_library;       // first line of MPI_Get_library_version
  int mpi_world_size = 0;
  int local_ranks = 0;           // ranks on this host
  int threads_per_rank = 1;
  std::string command_line;      // /proc/self/cmdline, arguments joined with spaces
  std::string date_utc;          // ISO 8601 when collected
  std::string openblas_num_threads;  // the environment variable ("" if unset)

  nlohmann::json ToJson() const;
  // Multi-line human-readable block ("# machine: ...").
  std::string ToText() const;
};

// Collects the above (call on one rank; local_ranks and world size are given by the caller).
MachineInfo CollectMachineInfo(int world_size, int local_ranks, int threads_per_rank);

// 1-minute load average from /proc/loadavg (-1 if unreadable).
double LoadAverage1m();
// "%Y-%m-%dT%H:%M:%SZ" now.
std::string UtcNow();

}  // namespace pg
