// The caption job's input list: deterministic, so that every rank, every run and every resume
// number the images the same way (record i of OUT.jsonl is image i of this list).
//
//   --images DIR       every regular file under DIR (recursively, symlinks to files followed,
//                      hidden entries "." skipped), sorted by path bytes, that is an image: by
//                      content (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC, AVIF: all decoded, see
//                      io/image_decode.h) or by name (an image extension, so that a corrupt
//                      "x.jpg" gets an error record). Other files (no image content, no image
//                      extension) and subdirectories that cannot be read are not listed; they
//                      are counted in ImageListing::skipped, which the job prints.
//   --images LIST      a text file (no NUL bytes, an optional UTF-8 BOM) with one path per
//                      line, in that order, duplicates kept (each line gets its own record);
//                      blank lines and lines starting with '#' are skipped, surrounding
//                      spaces/tabs/CR trimmed; relative paths are taken relative to the
//                      directory of LIST; the files need not exist (a missing file becomes an
//                      "error" record, not a failed job).
//   --images IMG       a single image: a file whose content is an image we recognise, or whose
//                      name has an image extension. The kind of a file is decided by its first
//                      bytes, never its name alone (an extension-less JPEG or WebP is an image).
// Paths are lexically normalised ("a/./b" -> "a/b").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

struct ImageListing {
  std::vector<std::string> images;   // the job's input order
  std::vector<std::string> skipped;  // directory mode: "path: why" for each entry not listed
  int64_t duplicates = 0;            // list mode: lines naming a path an earlier line named
};

// Throws pg::Error naming `source` if it does not exist, cannot be read, or yields no images.
ImageListing ListImageInputs(const std::string& source);
std::vector<std::string> ListImages(const std::string& source);  // ListImageInputs(...).images

// True for names ending in an image extension (.jpg .jpeg .png .webp .gif .bmp .tif .tiff
// .heic .heif .avif, any case).
bool HasImageExtension(const std::string& path);

// The image format's name from the file's first bytes ("JPEG", "PNG", "WebP", ...), or "" when
// the file cannot be read or is not an image we recognise.
std::string SniffImageFile(const std::string& path);

// Lexical normalisation of each path, order and duplicates kept (exposed for tests).
std::vector<std::string> NormalizeImageList(std::vector<std::string> paths);

// FNV-1a 64 (hex) over the count and every path, each terminated by '\n'.
std::string ImageListHash(const std::vector<std::string>& images);

}  // namespace pg
