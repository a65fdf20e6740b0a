// Where a read hyperslab lands in memory: `rows` runs of the slab's elements (C order), run r
// at data + r * stride elements of `dtype`. A contiguous tensor is rows = 1 (or stride == cols);
// a block of columns of a fused matrix [rows, stride] is one slab per column block.
#pragma once

#include <cstdint>

#include "runtime/dtype.h"

namespace pg {
namespace h5 {

struct StridedDest {
  void* data = nullptr;       // the first element of run 0
  DType dtype = DType::kF32;  // element type written
  int64_t rows = 1;           // runs
  int64_t stride = 0;         // elements from run r to run r + 1 (>= the run length)
};

}  // namespace h5
}  // namespace pg
