#include "caption_job/image_list.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "caption_job/fingerprint.h"
#include "io/image_decode.h"
#include "runtime/check.h"

namespace fs = std::filesystem;

namespace pg {
namespace {

bool IsHidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// One directory level at a time, so that an unreadable subdirectory is reported, not skipped.
void WalkDirectory(const fs::path& dir, ImageListing* out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) {
    out->skipped.push_back(dir.string() + ": cannot read the directory: " + ec.message());
    return;
  }
  std::vector<fs::path> subdirs;
  for (; it != end; it.increment(ec)) {
    if (ec) {
      out->skipped.push_back(dir.string() + ": error while reading the directory: " + ec.message());
      break;
    }
    const fs::path p = it->path();
    if (IsHidden(p)) continue;
    std::error_code st_ec;
    const fs::file_status st = fs::status(p, st_ec);  // follows symlinks
    if (fs::is_directory(st)) {
      subdirs.push_back(p);
    } else if (fs::is_regular_file(st)) {
      const std::string path = p.string();
      if (!SniffImageFile(path).empty() || HasImageExtension(path))
        out->images.push_back(path);
      else
        out->skipped.push_back(path + ": not an image (by content or name)");
    } else {
      out->skipped.push_back(p.string() + (st_ec ? ": cannot stat: " + st_ec.message() : ": not a regular file"));
    }
  }
  for (const fs::path& d : subdirs) WalkDirectory(d, out);
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

std::vector<std::string> ReadListFile(const std::string& list) {
  std::ifstream in(list, std::ios::binary);
  PG_CHECK(in.good(), "--images '" << list << "': cannot open the list file");
  const fs::path base = fs::path(list).parent_path();
  std::vector<std::string> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (n == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    PG_CHECK(line.find('\0') == std::string::npos,
             "--images '" << list << "': line " << n << " holds a NUL byte: neither an image we recognise "
                          << "(JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF) nor a text list of paths");
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
  for (const char* e : {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"})
    if (ext == e) return true;
  return false;
}

std::string SniffImageFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  uint8_t head[32];
  const size_t n = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  const char* name = ImageFormatName(head, n);
  return name ? name : "";
}

std::vector<std::string> NormalizeImageList(std::vector<std::string> paths) {
  for (std::string& p : paths) p = fs::path(p).lexically_normal().string();
  return paths;
}

ImageListing ListImageInputs(const std::string& source) {
  std::error_code ec;
  const fs::file_status st = fs::status(source, ec);
  PG_CHECK(!ec && fs::exists(st), "--images '" << source << "' does not exist");
  ImageListing l;
  if (fs::is_directory(st)) {
    WalkDirectory(source, &l);
    l.images = NormalizeImageList(std::move(l.images));
    std::sort(l.images.begin(), l.images.end());
    PG_CHECK(!l.images.empty(), "--images '" << source << "': no image files in the directory ("
                                             << l.skipped.size() << " other entries skipped)");
    return l;
  }
  if (!SniffImageFile(source).empty() || HasImageExtension(source)) {
    l.images = NormalizeImageList({source});
    return l;
  }
  l.images = NormalizeImageList(ReadListFile(source));
  PG_CHECK(!l.images.empty(), "--images '" << source << "': the list file names no images");
  std::set<std::string> seen;
  for (const std::string& p : l.images) l.duplicates += !seen.insert(p).second;
  return l;
}

std::vector<std::string> ListImages(const std::string& source) { return ListImageInputs(source).images; }

std::string ImageListHash(const std::vector<std::string>& images) {
  uint64_t h = Fnv1a64(std::to_string(images.size()) + "\n");
  for (const std::string& p : images) h = Fnv1a64(p + "\n", h);
  return HexU64(h);
}

}  // namespace pg
