#include "caption_job/image_list.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "caption_job/fingerprint.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

bool IsHidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  PG_CHECK(!ec, "--images '" << dir << "': cannot list the directory: " << ec.message());
  for (; it != end; it.increment(ec)) {
    PG_CHECK(!ec, "--images '" << dir << "': error while listing the directory: " << ec.message());
    const fs::directory_entry& e = *it;
    if (IsHidden(e.path())) {
      if (e.is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (e.is_regular_file(ec) && HasImageExtension(e.path().string())) out.push_back(e.path().string());
  }
  return out;
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> ReadListFile(const std::string& list) {
  std::ifstream in(list);
  PG_CHECK(in.good(), "--images '" << list << "': cannot open the list file");
  const fs::path base = fs::path(list).parent_path();
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    const fs::path p(line);
    out.push_back(p.is_absolute() || base.empty() ? p.string() : (base / p).string());
  }
  PG_CHECK(!in.bad(), "--images '" << list << "': error while reading the list file");
  return out;
}

}  // namespace

bool HasImageExtension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> NormalizeImageList(std::vector<std::string> paths) {
  for (std::string& p : paths) p = fs::path(p).lexically_normal().string();
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

std::vector<std::string> ListImages(const std::string& source) {
  std::error_code ec;
  const fs::file_status st = fs::status(source, ec);
  PG_CHECK(!ec && fs::exists(st), "--images '" << source << "' does not exist");
  std::vector<std::string> paths;
  if (fs::is_directory(st)) {
    paths = ListDirectory(source);
    PG_CHECK(!paths.empty(), "--images '" << source << "': no .jpg, .jpeg or .png files in the directory");
  } else if (HasImageExtension(source)) {
    paths.push_back(source);
  } else {
    paths = ReadListFile(source);
    PG_CHECK(!paths.empty(), "--images '" << source << "': the list file names no images");
  }
  return NormalizeImageList(std::move(paths));
}

std::string ImageListHash(const std::vector<std::string>& images) {
  uint64_t h = Fnv1a64(std::to_string(images.size()) + "\n");
  for (const std::string& p : images) h = Fnv1a64(p + "\n", h);
  return HexU64(h);
}

}  // namespace pg
