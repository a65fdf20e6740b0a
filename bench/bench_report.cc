#include "bench/bench_report.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Opens `path` for writing rows under `header`: appends when asked and the file exists (its
// first line must be `header`), else truncates and writes the header.
std::ofstream OpenCsv(const std::string& path, const std::string& header, bool append) {
  if (append && fs::exists(path)) {
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    PG_CHECK(first == header, "bench: cannot --append to '" << path << "': its columns differ from this version's ("
                                                           << first.substr(0, 80) << "...); use another --out");
    std::ofstream out(path, std::ios::app);
    PG_CHECK(out, "bench: cannot append to '" << path << "'");
    return out;
  }
  std::ofstream out(path, std::ios::trunc);
  PG_CHECK(out, "bench: cannot write '" << path << "'");
  out << header << "\n";
  return out;
}

}  // namespace

std::string BenchRow::CsvHeader() {
  return "model,dtype,backend,ranks,tp,dp,vit,scaling,batch,images,prompt_len,new_tokens,threads,nproc,"
         "oversubscribed,warmup,iters,image_s,vit_s,bcast_s,prefill_s,prefill_allreduce_s,decode_s,"
         "decode_allreduce_s,decode_step_ms,allgather_s,allreduce_calls,allreduce_bytes,e2e_s,e2e_min_s,e2e_max_s,"
         "images_per_s,tokens_per_s,images_per_s_per_rank,mean_prefill_s,mean_decode_s,cpu_s,mean_cpu_s,cores_used,"
         "load1_start,load1_end,decode_host_bytes_per_step,date_utc";
}

std::string BenchRow::CsvLine() const {
  std::ostringstream os;
  os << model << "," << dtype << "," << backend << "," << ranks << "," << tp << "," << dp << "," << vit << ","
     << scaling << "," << batch << "," << images << "," << prompt_len << "," << new_tokens << "," << threads << ","
     << nproc << "," << (oversubscribed() ? 1 : 0) << "," << warmup << "," << iters;
  for (double v : {max.image, max.vit, max.bcast, max.prefill, max.prefill_allreduce, max.decode,
                   max.decode_allreduce, decode_step_ms(), max.allgather, max.allreduce_calls, max.allreduce_bytes,
                   max.e2e, e2e_min, e2e_max, images_per_s(), tokens_per_s(), images_per_s() / ranks, mean.prefill,
                   mean.decode, max.cpu, mean.cpu, cores_used(), load_start, load_end, decode_host_bytes_per_step()})
    os << "," << Num(v);
  os << "," << date_utc;
  return os.str();
}

nlohmann::json BenchRow::ToJson() const {
  nlohmann::json j{{"model", model},     {"dtype", dtype},       {"backend", backend},
                   {"ranks", ranks},     {"tp", tp},             {"dp", dp},
                   {"vit", vit},         {"scaling", scaling},   {"batch", batch},
                   {"images", images},   {"prompt_len", prompt_len}, {"new_tokens", new_tokens},
                   {"threads", threads}, {"nproc", nproc},       {"oversubscribed", oversubscribed()},
                   {"warmup", warmup},   {"iters", iters},       {"e2e_min_s", e2e_min},
                   {"e2e_max_s", e2e_max}, {"images_per_s", images_per_s()}, {"tokens_per_s", tokens_per_s()},
                   {"decode_step_ms", decode_step_ms()}, {"decode_host_bytes_per_step", decode_host_bytes_per_step()}, {"cores_used", cores_used()}, {"load1_start", load_start}, {"load1_end", load_end},
                   {"date_utc", date_utc}};
  nlohmann::json mx, mn;
  const std::vector<double> a = max.ToVector(), b = mean.ToVector();
  for (size_t i = 0; i < a.size(); ++i) {
    mx[PhaseTimes::Names()[i]] = a[i];
    mn[PhaseTimes::Names()[i]] = b[i];
  }
  j["max_over_ranks"] = mx;
  j["mean_over_ranks"] = mn;
  return j;
}

std::string BenchRow::Summary() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%-8s %d=tp%dxdp%d %-7s %-6s b%-3d img%-4d| %8.3f img/s %9.2f tok/s | image %.3f vit %.3f bcast %.3f "
                "prefill %.3f (ar %.3f) decode %.3f (ar %.3f, %.2f ms/step, %.0f B/step to host) e2e %.3f s, %.2f cores%s",
                model.c_str(), ranks, tp, dp, vit.c_str(), scaling.c_str(), batch, images, images_per_s(),
                tokens_per_s(), max.image, max.vit, max.bcast, max.prefill, max.prefill_allreduce, max.decode,
                max.decode_allreduce, decode_step_ms(), decode_host_bytes_per_step(), max.e2e, cores_used(),
                oversubscribed() ? " [oversubscribed]" : "");
  return buf;
}

std::string CollectiveRow::CsvHeader() { return "ranks,tp,dp,op,bytes,iters,seconds"; }

std::string CollectiveRow::CsvLine() const {
  std::ostringstream os;
  os << ranks << "," << tp << "," << dp << "," << result.op << "," << result.bytes << "," << result.iters << ","
     << Num(result.seconds);
  return os.str();
}

void WriteBenchOutputs(const std::string& dir, bool append, const nlohmann::json& run_header,
                       const std::vector<BenchRow>& rows, const std::vector<CollectiveRow>& collectives) {
  fs::create_directories(dir);
  {
    std::ofstream csv = OpenCsv((fs::path(dir) / "bench.csv").string(), BenchRow::CsvHeader(), append);
    for (const BenchRow& r : rows) csv << r.CsvLine() << "\n";
  }
  {
    std::ofstream csv =
        OpenCsv((fs::path(dir) / "collectives.csv").string(), CollectiveRow::CsvHeader(), append);
    for (const CollectiveRow& c : collectives) csv << c.CsvLine() << "\n";
  }
  const std::string json_path = (fs::path(dir) / "bench.json").string();
  nlohmann::json doc{{"runs", nlohmann::json::array()}};
  if (append && fs::exists(json_path)) {
    std::ifstream in(json_path);
    doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    PG_CHECK(doc.is_object() && doc.contains("runs") && doc["runs"].is_array(),
             "bench: cannot --append to '" << json_path << "': not a bench.json with a \"runs\" list");
  }
  nlohmann::json run = run_header;
  run["rows"] = nlohmann::json::array();
  for (const BenchRow& r : rows) run["rows"].push_back(r.ToJson());
  run["collectives"] = nlohmann::json::array();
  for (const CollectiveRow& c : collectives)
    run["collectives"].push_back({{"ranks", c.ranks},
                                  {"tp", c.tp},
                                  {"dp", c.dp},
                                  {"op", c.result.op},
                                  {"bytes", c.result.bytes},
                                  {"iters", c.result.iters},
                                  {"seconds", c.result.seconds}});
  doc["runs"].push_back(run);
  std::ofstream out(json_path, std::ios::trunc);
  PG_CHECK(out, "bench: cannot write '" << json_path << "'");
  out << doc.dump(1) << "\n";
}

}  // namespace pg
