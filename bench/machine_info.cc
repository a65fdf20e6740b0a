#include "bench/machine_info.h"

#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>

namespace pg {
namespace {

// The value after "key" and ':' on the first line of `path` that starts with `key`.
std::string ProcField(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    const size_t b = v.find_first_not_of(" \t");
    return b == std::string::npos ? "" : v.substr(b);
  }
  return "";
}

std::string CommandLine() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : all)
    if (c == '\0') c = ' ';
  while (!all.empty() && all.back() == ' ') all.pop_back();
  return all;
}

}  // namespace

double LoadAverage1m() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

MachineInfo CollectMachineInfo(int world_size, int local_ranks, int threads_per_rank) {
  MachineInfo m;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) m.hostname = host;
  m.nproc = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  m.cpu_model = ProcField("/proc/cpuinfo", "model name");
  const std::string mem = ProcField("/proc/meminfo", "MemTotal");  // "24576000 kB"
  m.mem_total_gib = std::atof(mem.c_str()) / (1024.0 * 1024.0);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(lib, &len);
  m.mpi_library = std::string(lib, lib + len);
  const size_t nl = m.mpi_library.find_first_of("\n,");
  if (nl != std::string::npos) m.mpi_library.resize(nl);
  m.mpi_world_size = world_size;
  m.local_ranks = local_ranks;
  m.threads_per_rank = threads_per_rank;
  m.command_line = CommandLine();
  m.date_utc = UtcNow();
  if (const char* e = std::getenv("OPENBLAS_NUM_THREADS")) m.openblas_num_threads = e;
  return m;
}

nlohmann::json MachineInfo::ToJson() const {
  return nlohmann::json{{"hostname", hostname},
                        {"nproc", nproc},
                        {"cpu_model", cpu_model},
                        {"mem_total_gib", mem_total_gib},
                        {"mpi_library", mpi_library},
                        {"mpi_world_size", mpi_world_size},
                        {"local_ranks", local_ranks},
                        {"threads_per_rank", threads_per_rank},
                        {"openblas_num_threads", openblas_num_threads},
                        {"command_line", command_line},
                        {"date_utc", date_utc},
                        {"load_average_1m", LoadAverage1m()}};
}

std::string MachineInfo::ToText() const {
  std::ostringstream os;
  os << "# command: " << command_line << "\n"
     << "# date: " << date_utc << "  host: " << hostname << "\n"
     << "# machine: " << nproc << " cores (" << cpu_model << "), " << mem_total_gib << " GiB, load average "
     << LoadAverage1m() << "\n"
     << "# mpi: " << mpi_library << ", world " << mpi_world_size << " ranks (" << local_ranks
     << " on this host), " << threads_per_rank << " thread(s) per rank, OPENBLAS_NUM_THREADS="
     << (openblas_num_threads.empty() ? "unset" : openblas_num_threads) << "\n";
  if (local_ranks * threads_per_rank > nproc)
    os << "# note: " << local_ranks << " ranks x " << threads_per_rank << " thread(s) > " << nproc
       << " cores: this host is oversubscribed; layouts with more ranks than cores time-share the cores\n";
  return os.str();
}

}  // namespace pg
