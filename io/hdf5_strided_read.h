// Reads one hyperslab of an HDF5 dataset straight into its final place in memory, for the
// weight loader (no whole-tensor host copy, no second pass over the tensor):
//   - the slab's elements, in C order, are viewed as `rows` runs of cols = n / rows elements;
//     run r lands at dst + r * stride (elements of the destination type), so a slab can fill a
//     block of columns of a fused matrix [rows, stride] (Q|K|V, gate|up) as well as a whole
//     contiguous tensor (stride == cols);
//   - destination type == stored type: HDF5 reads into place (a strided memory selection);
//   - f32 <-> bf16: read in blocks along the slab's first non-unit axis (whole chunks of the
//     dataset where possible, so no chunk is read twice) through one staging buffer of at most
//     max(stage_elements, one chunk band) stored elements, converted into place on `threads`
//     threads (bf16 -> f32 exact; f32 -> bf16 rounded to nearest even, as F32ToBf16).
// HDF5 is called from the calling thread only (the library is the serial, non-thread-safe
// build); the worker threads only convert memory.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/strided_dest.h"
#include "runtime/dtype.h"

namespace pg {
namespace h5 {

struct StridedSource {
  hid_t dataset = -1;
  hid_t stored_type = -1;     // a memory type equal to the stored one (native f32 or the bf16 type)
  DType stored_dtype = DType::kF32;
  std::vector<int64_t> start, count;  // the hyperslab (already checked against the shape)
};

// Throws pg::Error naming `where` on a failed read or an inconsistent destination.
void ReadStrided(const StridedSource& src, const StridedDest& dst, const std::string& where, int threads,
                 int64_t stage_elements = int64_t{1} << 18);

}  // namespace h5
}  // namespace pg
