#include "caption_job/shard_list.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

bool IsInteger(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size() || s.size() - i > 15) return false;
  return std::all_of(s.begin() + i, s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool ZeroPadded(const std::string& s) {
  const size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return s.size() > i + 1 && s[i] == '0';
}

// "A..B" -> the values as bash writes them; false if `body` is not an integer range.
bool ExpandRange(const std::string& spec, const std::string& body, size_t max, std::vector<std::string>* out) {
  const size_t dots = body.find("..");
  if (dots == std::string::npos) return false;
  const std::string a = body.substr(0, dots), b = body.substr(dots + 2);
  if (!IsInteger(a) || !IsInteger(b)) return false;
  const long long from = std::stoll(a), to = std::stoll(b);
  const size_t width = ZeroPadded(a) || ZeroPadded(b) ? std::max(a.size(), b.size()) : 0;
  PG_CHECK(static_cast<unsigned long long>(from <= to ? to - from : from - to) < max,
           "--shards '" << spec << "': {" << body << "} expands to more than " << max << " names");
  const long long step = from <= to ? 1 : -1;
  for (long long v = from;; v += step) {
    std::string digits = std::to_string(v < 0 ? -v : v);
    const size_t w = width > (v < 0 ? 1 : 0) ? width - (v < 0 ? 1 : 0) : 0;
    if (digits.size() < w) digits.insert(0, w - digits.size(), '0');
    out->push_back((v < 0 ? "-" : "") + digits);
    if (v == to) break;
  }
  return true;
}

// Index of the '}' matching the '{' at `open`, or npos.
size_t MatchingBrace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

// The top-level comma-separated parts of `body`.
std::vector<std::string> SplitTopLevel(const std::string& body) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '{') ++depth;
    if (body[i] == '}') --depth;
    if (body[i] == ',' && depth == 0) {
      parts.push_back(body.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(body.substr(start));
  return parts;
}

void Expand(const std::string& spec, const std::string& s, size_t from, size_t max, std::vector<std::string>* out) {
  for (size_t open = s.find('{', from); open != std::string::npos; open = s.find('{', open + 1)) {
    const size_t close = MatchingBrace(s, open);
    PG_CHECK(close != std::string::npos, "--shards '" << spec << "': the '{' at byte " << open << " is never closed");
    const std::string body = s.substr(open + 1, close - open - 1);
    std::vector<std::string> alternatives = SplitTopLevel(body);
    if (alternatives.size() < 2) {
      alternatives.clear();
      if (!ExpandRange(spec, body, max, &alternatives)) continue;  // "{x}": literal, as in bash
    }
    const std::string prefix = s.substr(0, open), suffix = s.substr(close + 1);
    for (const std::string& alt : alternatives) Expand(spec, prefix + alt + suffix, open, max, out);
    return;
  }
  out->push_back(s);
  PG_CHECK(out->size() <= max, "--shards '" << spec << "' expands to more than " << max << " names");
}

bool HasGlob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> Glob(const std::string& spec, const std::string& pattern) {
  glob_t g{};
  const int r = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
  std::vector<std::string> out;
  for (size_t i = 0; r == 0 && i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  ::globfree(&g);
  PG_CHECK(r == 0 || r == GLOB_NOMATCH, "--shards '" << spec << "': cannot expand '" << pattern << "'");
  PG_CHECK(!out.empty(), "--shards '" << spec << "': '" << pattern << "' matches no file");
  std::sort(out.begin(), out.end());
  return out;
}

// A tar or gzip archive by its first bytes ("ustar" at 257, or the gzip magic).
bool LooksLikeArchive(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  unsigned char head[263] = {};
  const size_t n = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return true;
  return n >= 262 && std::string(reinterpret_cast<char*>(head) + 257, 5) == "ustar";
}

std::vector<std::string> ListDirectory(const std::string& spec, const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (HasTarExtension(it->path().string()) && it->is_regular_file()) out.push_back(it->path().string());
  PG_CHECK(!ec, "--shards '" << spec << "': cannot list the directory '" << dir << "': " << ec.message());
  PG_CHECK(!out.empty(), "--shards '" << spec << "': the directory '" << dir << "' holds no .tar, .tar.gz or .tgz file");
  std::sort(out.begin(), out.end());
  return out;
}

void AddSpec(const std::string& spec, const std::string& where, int depth, std::vector<std::string>* out);

void AddListFile(const std::string& list, int depth, std::vector<std::string>* out) {
  PG_CHECK(depth < 4, "--shards '" << list << "': list files nested more than 4 deep");
  std::ifstream in(list, std::ios::binary);
  PG_CHECK(in.good(), "--shards '" << list << "': cannot open the list file");
  const fs::path base = fs::path(list).parent_path();
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = 0;
    while (b < line.size() && (line[b] == ' ' || line[b] == '\t')) ++b;
    line.erase(0, b);
    if (line.empty() || line[0] == '#') continue;
    PG_CHECK(line.find('\0') == std::string::npos, "--shards list '" << list << "' line " << n
                                                   << " holds a NUL byte: it is not a text list of shards");
    const fs::path p(line);
    AddSpec(p.is_absolute() || base.empty() ? line : (base / p).string(), list + ":" + std::to_string(n), depth + 1,
            out);
  }
}

// One spec: braces, then per result: glob / directory / list file / shard.
void AddSpec(const std::string& spec, const std::string& where, int depth, std::vector<std::string>* out) {
  for (const std::string& name : ExpandBraces(spec)) {
    if (HasGlob(name)) {
      for (std::string& m : Glob(where, name)) out->push_back(std::move(m));
      continue;
    }
    std::error_code ec;
    const fs::file_status st = fs::status(name, ec);
    if (fs::is_directory(st)) {
      for (std::string& m : ListDirectory(where, name)) out->push_back(std::move(m));
    } else if (fs::is_regular_file(st) && !HasTarExtension(name) && !LooksLikeArchive(name)) {
      AddListFile(name, depth, out);
    } else {
      out->push_back(name);  // a shard (missing ones are reported by the job)
    }
  }
}

}  // namespace

std::vector<std::string> ExpandBraces(const std::string& spec, size_t max_results) {
  std::vector<std::string> out;
  Expand(spec, spec, 0, max_results, &out);
  return out;
}

bool HasTarExtension(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const std::string ext : {".tar", ".tar.gz", ".tgz"})
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) return true;
  return false;
}

std::string ShardOutputName(const std::string& shard) {
  std::string name = fs::path(shard).filename().string();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const std::string ext : {".tar.gz", ".tgz", ".tar"}) {
    if (lower.size() > ext.size() && lower.compare(lower.size() - ext.size(), ext.size(), ext) == 0) {
      name.resize(name.size() - ext.size());
      break;
    }
  }
  return name + ".jsonl";
}

std::vector<std::string> ListShards(const std::string& spec) {
  PG_CHECK(!spec.empty(), "--shards: empty");
  std::vector<std::string> shards;
  AddSpec(spec, spec, 0, &shards);
  PG_CHECK(!shards.empty(), "--shards '" << spec << "' names no shards");
  std::map<std::string, std::string> by_output;
  std::set<std::string> seen;
  for (std::string& s : shards) {
    s = fs::path(s).lexically_normal().string();
    PG_CHECK(seen.insert(s).second, "--shards '" << spec << "' names the shard '" << s << "' twice");
    const auto [it, fresh] = by_output.emplace(ShardOutputName(s), s);
    PG_CHECK(fresh, "--shards '" << spec << "': the shards '" << it->second << "' and '" << s
                                 << "' would both write '" << it->first << "'; caption them into separate --output-dir");
  }
  return shards;
}

ShardRange ParseShardRange(const std::string& spec, int64_t shards) {
  ShardRange r{0, shards};
  if (spec.empty()) return r;
  const auto number = [&](const std::string& s, const char* what) {
    PG_CHECK(!s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), ::isdigit),
             "--shard-range '" << spec << "': " << what << " '" << s << "' is not a non-negative integer "
                               << "(expected A:B, A: or K/N)");
    return static_cast<int64_t>(std::stoll(s));
  };
  if (const size_t slash = spec.find('/'); slash != std::string::npos) {
    const int64_t k = number(spec.substr(0, slash), "K"), n = number(spec.substr(slash + 1), "N");
    PG_CHECK(n >= 1 && k < n, "--shard-range '" << spec << "': K/N needs 0 <= K < N");
    return ShardRange{k * shards / n, (k + 1) * shards / n};
  }
  const size_t colon = spec.find(':');
  PG_CHECK(colon != std::string::npos, "--shard-range '" << spec << "': expected A:B, A: or K/N");
  const int64_t a = number(spec.substr(0, colon), "A");
  const int64_t b = colon + 1 == spec.size() ? shards : number(spec.substr(colon + 1), "B");
  PG_CHECK(a <= b, "--shard-range '" << spec << "': A > B");
  r.begin = std::min(a, shards);
  r.end = std::min(b, shards);
  return r;
}

}  // namespace pg
