// The caption job's input list: sorted, deduplicated and deterministic, so that every rank,
// every run and every resume number the images the same way (record i of OUT.jsonl is image i).
//
//   --images DIR       every regular file under DIR (recursively, symlinks to files followed,
//                      hidden entries "." skipped) whose name ends in .jpg, .jpeg or .png
//                      (any case); paths are DIR/relative/path;
//   --images LIST.txt  one path per line; blank lines and lines starting with '#' are skipped,
//                      surrounding spaces/tabs/CR trimmed; relative paths are taken relative to
//                      the directory of LIST.txt; the files need not exist (a missing file
//                      becomes an "error" record, not a failed job);
//   --images IMG.png   a single image (a file named .jpg/.jpeg/.png).
// Paths are lexically normalised ("a/./b" -> "a/b"), then sorted by bytes and deduplicated.
#pragma once

#include <string>
#include <vector>

namespace pg {

// Throws pg::Error naming `source` if it does not exist, cannot be read, or yields no images.
std::vector<std::string> ListImages(const std::string& source);

// True for names ending in .jpg / .jpeg / .png (case-insensitive).
bool HasImageExtension(const std::string& path);

// Sorts and deduplicates after lexical normalisation (exposed for tests).
std::vector<std::string> NormalizeImageList(std::vector<std::string> paths);

// FNV-1a 64 (hex) over the count and every path, each terminated by '\n'.
std::string ImageListHash(const std::vector<std::string>& images);

}  // namespace pg
