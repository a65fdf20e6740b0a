#include "io/safetensors_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/check.h"
#include "runtime/dtype.h"

namespace pg {
namespace {

using json = nlohmann::json;
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}
std::string DirName(const std::string& p) {
  const size_t s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void PreadAll(int fd, uint64_t offset, void* dst, size_t n, const std::string& what) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const ssize_t got = pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    PG_CHECK(got > 0, what << ": read failed at byte " << offset << " ("
                           << (got < 0 ? std::strerror(errno) : "unexpected end of file") << ")");
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

}  // namespace

size_t SafetensorsDTypeSize(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  return 0;
}

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  std::string index_path, single;
  if (IsDir(path)) {
    if (Exists(path + "/model.safetensors.index.json"))
      index_path = path + "/model.safetensors.index.json";
    else if (Exists(path + "/model.safetensors"))
      single = path + "/model.safetensors";
    else
      PG_THROW("safetensors: directory '" << path << "' holds neither model.safetensors.index.json nor model.safetensors");
  } else if (EndsWith(path, ".json")) {
    index_path = path;
  } else {
    single = path;
  }
  try {
    if (!single.empty()) {
      OpenFile(single);
    } else {
      std::ifstream in(index_path);
      PG_CHECK(in.good(), "safetensors index '" << index_path << "': cannot open");
      json j;
      try {
        in >> j;
      } catch (const json::exception& e) {
        PG_THROW("safetensors index '" << index_path << "': not valid JSON (" << e.what() << ")");
      }
      PG_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(),
               "safetensors index '" << index_path << "': no \"weight_map\" object");
      std::map<std::string, std::string> wanted;  // tensor -> file path
      std::set<std::string> files;
      for (auto& [name, file] : j["weight_map"].items()) {
        PG_CHECK(file.is_string(), "safetensors index '" << index_path << "': entry '" << name << "' is not a file name");
        const std::string f = file.get<std::string>();
        PG_CHECK(!f.empty() && f[0] != '/' && f.find("..") == std::string::npos,
                 "safetensors index '" << index_path << "': tensor '" << name << "' names file '" << f
                                       << "' outside the checkpoint directory");
        wanted[name] = DirName(index_path) + "/" + f;
        files.insert(wanted[name]);
      }
      for (const std::string& f : files) OpenFile(f);
      for (const auto& [name, file] : wanted) {
        const SafetensorsTensor* t = Find(name);
        PG_CHECK(t, "safetensors index '" << index_path << "': tensor '" << name << "' is missing from '" << file << "'");
        PG_CHECK(t->file == file, "safetensors index '" << index_path << "': tensor '" << name << "' is in '" << t->file
                                                        << "', not in '" << file << "' as the index says");
      }
      for (const SafetensorsTensor& t : tensors_)
        PG_CHECK(wanted.count(t.name), "safetensors index '" << index_path << "': tensor '" << t.name << "' in '"
                                                             << t.file << "' is not listed in the index");
    }
  } catch (...) {
    for (auto& [f, fd] : fds_) close(fd);
    throw;
  }
  std::stable_sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return a.file != b.file ? a.file < b.file : a.offset < b.offset;
  });
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

SafetensorsReader::~SafetensorsReader() {
  for (auto& [f, fd] : fds_) close(fd);
}

void SafetensorsReader::OpenFile(const std::string& file) {
  const std::string where = "safetensors '" + file + "'";
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  PG_CHECK(fd >= 0, where << ": cannot open (" << std::strerror(errno) << ")");
  fds_[file] = fd;
  struct stat st;
  PG_CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), where << ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  PG_CHECK(size >= 8, where << ": " << size << " bytes is too small for a safetensors file");
  unsigned char len_bytes[8];
  PreadAll(fd, 0, len_bytes, 8, where);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | len_bytes[i];
  PG_CHECK(hlen <= kMaxHeaderBytes && hlen <= size - 8,
           where << ": header length " << hlen << " exceeds the file (" << size << " bytes); not safetensors or truncated");
  std::string header(hlen, '\0');
  PreadAll(fd, 8, &header[0], hlen, where);
  json j;
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    PG_THROW(where << ": header is not valid JSON (" << e.what() << ")");
  }
  PG_CHECK(j.is_object(), where << ": header is not a JSON object");
  const uint64_t data_start = 8 + hlen, data_size = size - data_start;
  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") continue;
    const std::string tw = where + ": tensor '" + name + "'";
    PG_CHECK(!index_.count(name) && !Find(name), tw << " appears twice in the checkpoint");
    PG_CHECK(v.is_object() && v.contains("dtype") && v["dtype"].is_string() && v.contains("shape") &&
                 v["shape"].is_array() && v.contains("data_offsets") && v["data_offsets"].is_array() &&
                 v["data_offsets"].size() == 2,
             tw << ": malformed header entry " << v.dump());
    SafetensorsTensor t;
    t.name = name;
    t.file = file;
    t.dtype = v["dtype"].get<std::string>();
    const size_t es = SafetensorsDTypeSize(t.dtype);
    PG_CHECK(es > 0, tw << " has dtype " << t.dtype << "; only F32, F16 and BF16 are supported");
    for (const json& d : v["shape"]) {
      PG_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0),
               tw << ": bad shape " << v["shape"].dump());
      t.shape.push_back(d.get<int64_t>());
    }
    t.num_elements = CheckedNumElements(t.shape, tw);
    const json& off = v["data_offsets"];
    PG_CHECK(off[0].is_number_unsigned() && off[1].is_number_unsigned(), tw << ": bad data_offsets " << off.dump());
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    PG_CHECK(b <= e && e <= data_size, tw << ": data [" << b << ", " << e << ") lies beyond the end of the file (data "
                                          << "section is " << data_size << " bytes; truncated file?)");
    uint64_t need = 0;
    PG_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(t.num_elements), es, &need) && need == e - b,
             tw << ": data_offsets span " << e - b << " bytes; shape " << ShapeStr(t.shape) << " of " << t.dtype
                << " needs " << need);
    t.offset = data_start + b;
    t.bytes = need;
    tensors_.push_back(std::move(t));
  }
}

const SafetensorsTensor* SafetensorsReader::Find(const std::string& name) const {
  auto it = index_.find(name);
  if (it != index_.end()) return &tensors_[it->second];
  if (!index_.empty()) return nullptr;
  for (const SafetensorsTensor& t : tensors_)  // while opening, before the index exists
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<float> SafetensorsReader::ReadAsF32(const std::string& name) const {
  const SafetensorsTensor* t = Find(name);
  PG_CHECK(t, "safetensors '" << path_ << "': no tensor '" << name << "'");
  std::vector<float> out(static_cast<size_t>(t->num_elements));
  ReadRangeAsF32(name, 0, t->num_elements, out.data());
  return out;
}

void SafetensorsReader::ReadRangeAsF32(const std::string& name, int64_t start, int64_t count, float* dst) const {
  const SafetensorsTensor* t = Find(name);
  PG_CHECK(t, "safetensors '" << path_ << "': no tensor '" << name << "'");
  const std::string where = "safetensors '" + t->file + "': tensor '" + name + "'";
  PG_CHECK(start >= 0 && count >= 0 && start <= t->num_elements && count <= t->num_elements - start,
           where << ": element range [" << start << ", +" << count << ") outside its " << t->num_elements << " elements");
  const int fd = fds_.at(t->file);
  const size_t es = SafetensorsDTypeSize(t->dtype);
  const uint64_t base = t->offset + static_cast<uint64_t>(start) * es;
  if (t->dtype == "F32") {
    PreadAll(fd, base, dst, static_cast<size_t>(count) * 4, where);  // little-endian host
    return;
  }
  std::vector<unsigned char> buf;
  const int64_t kBlock = 1 << 20;
  for (int64_t done = 0; done < count;) {
    const int64_t k = std::min(kBlock, count - done);
    buf.resize(static_cast<size_t>(k) * 2);
    PreadAll(fd, base + static_cast<uint64_t>(done) * 2, buf.data(), buf.size(), where);
    const bool f16 = t->dtype == "F16";
    for (int64_t i = 0; i < k; ++i) {
      const uint16_t w = static_cast<uint16_t>(buf[2 * i] | (buf[2 * i + 1] << 8));
      dst[done + i] = f16 ? F16ToF32(w) : Bf16ToF32(w);
    }
    done += k;
  }
}

}  // namespace pg
