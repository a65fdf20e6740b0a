// COCO run-length encoding of a binary mask, byte for byte as pycocotools writes it:
// runs over the mask in column-major (Fortran) order, the first run counting 0s (possibly 0),
// and the compressed string form of maskApi.c rleToString (pycocotools.mask.encode's
// "counts"). pycocotools.mask.decode({"size": [height, width], "counts": s}) reads it back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

// mask: [height, width] row-major, non-zero = 1 -> run lengths, alternating 0s and 1s.
std::vector<uint32_t> RleCounts(const std::vector<uint8_t>& mask, int height, int width);

// The counts as pycocotools' compressed string (6-bit groups + 48, deltas from counts[i - 2]).
std::string RleString(const std::vector<uint32_t>& counts);

// The inverse of RleString (for tests and tools); throws pg::Error on a malformed string.
std::vector<uint32_t> RleStringToCounts(const std::string& s);

}  // namespace pg
