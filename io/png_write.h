// Writes an 8-bit greyscale PNG (libpng), atomically: a temporary file in the same directory,
// then rename, so a reader (or a resumed job) never sees half a file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

// pixels: [height, width] row-major, one byte per pixel. Throws pg::Error naming `path`.
void WritePngGray(const std::string& path, const std::vector<uint8_t>& pixels, int width, int height);

}  // namespace pg
