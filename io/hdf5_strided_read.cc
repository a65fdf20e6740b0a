#include "io/hdf5_strided_read.h"

#include <algorithm>
#include <cstring>

#include "io/hdf5_util.h"
#include "runtime/check.h"
#include "runtime/cpu/parallel.h"

namespace pg {
namespace h5 {
namespace {

int64_t Product(const std::vector<int64_t>& v, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < v.size(); ++i) n *= v[i];
  return n;
}

// Selects [start, start + count) in a fresh copy of the dataset's file space.
Handle FileSelection(hid_t ds, const std::vector<int64_t>& start, const std::vector<int64_t>& count,
                     const std::string& where) {
  Handle space(H5Dget_space(ds), H5Sclose);
  PG_H5_CHECK(space.get(), where << ": cannot read its dataspace");
  const std::vector<hsize_t> s = Dims(start), c = Dims(count);
  PG_H5_CHECK(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, s.data(), nullptr, c.data(), nullptr),
              where << ": selecting slab " << ShapeStr(start) << " + " << ShapeStr(count));
  return space;
}

// The dataset's chunk extent along `axis` (0 when it is not chunked).
int64_t ChunkDim(hid_t ds, size_t axis) {
  Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
  if (dcpl.get() < 0 || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return 0;
  const int rank = H5Pget_chunk(dcpl.get(), 0, nullptr);
  if (rank <= 0 || axis >= static_cast<size_t>(rank)) return 0;
  std::vector<hsize_t> chunk(rank);
  H5Pget_chunk(dcpl.get(), rank, chunk.data());
  return static_cast<int64_t>(chunk[axis]);
}

// A memory dataspace whose selection has the same rank and counts as the file selection
// `count` (HDF5 maps chunks to memory element by element when the shapes differ, ~10x slower).
// Its rows of `cols` elements lie `stride` apart: the trailing dims that make up `cols` keep
// their counts, the outermost of them is stretched to stride / (the dims inside it).
Handle MemorySelection(const std::vector<int64_t>& count, int64_t cols, int64_t stride, const std::string& where) {
  std::vector<hsize_t> dims = Dims(count), sel = Dims(count);
  if (stride != cols) {
    size_t j = count.size();
    int64_t inner = 1;  // product of count[j..]
    do inner *= count[--j];
    while (j > 0 && inner < cols);
    const int64_t below = inner / count[j];  // product of count[j + 1..]
    PG_CHECK(inner == cols && stride % below == 0,
             where << ": rows of " << cols << " elements of a slab " << ShapeStr(count) << " cannot be placed "
                   << stride << " elements apart");
    dims[j] = static_cast<hsize_t>(stride / below);
  }
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  PG_H5_CHECK(space.get(), where << ": cannot create the memory dataspace");
  const std::vector<hsize_t> zero(dims.size(), 0);
  PG_H5_CHECK(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, zero.data(), nullptr, sel.data(), nullptr),
              where << ": selecting " << ShapeStr(count) << " in memory");
  return space;
}

// Same type: HDF5 reads the slab into place.
void ReadInPlace(const StridedSource& src, const StridedDest& dst, int64_t cols, const std::string& where) {
  Handle fspace = FileSelection(src.dataset, src.start, src.count, where);
  Handle mspace = MemorySelection(src.count, cols, dst.rows == 1 ? cols : dst.stride, where);
  PG_H5_CHECK(H5Dread(src.dataset, src.stored_type, mspace.get(), fspace.get(), H5P_DEFAULT, dst.data),
              where << ": read failed (truncated or corrupt file?)");
}

// Converts stored elements [first, first + m) of the slab (in `staged`) into their places in dst.
void ConvertBlock(const void* staged, DType from, const StridedDest& dst, int64_t first, int64_t m, int64_t cols,
                  int threads) {
  cpu::ParallelFor(threads, m, 1 << 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1;) {
      const int64_t e = first + i, r = e / cols, c = e % cols;
      const int64_t run = std::min(cols - c, i1 - i);
      const int64_t at = r * dst.stride + c;
      if (from == DType::kBF16) {  // -> f32, exact
        const uint16_t* w = static_cast<const uint16_t*>(staged) + i;
        float* out = static_cast<float*>(dst.data) + at;
        for (int64_t k = 0; k < run; ++k) out[k] = Bf16ToF32(w[k]);
      } else {  // f32 -> bf16, nearest even
        const float* f = static_cast<const float*>(staged) + i;
        uint16_t* out = static_cast<uint16_t*>(dst.data) + at;
        for (int64_t k = 0; k < run; ++k) out[k] = F32ToBf16(f[k]);
      }
      i += run;
    }
  });
}

// f32 <-> bf16: blocks along the first non-unit axis, whole chunks where they fit.
void ReadConverted(const StridedSource& src, const StridedDest& dst, int64_t n, int64_t cols,
                   const std::string& where, int threads, int64_t stage_elements) {
  size_t axis = 0;
  while (axis + 1 < src.count.size() && src.count[axis] == 1) ++axis;
  const int64_t inner = Product(src.count, axis + 1);  // stored elements per index along `axis`
  int64_t step = std::max<int64_t>(1, stage_elements / std::max<int64_t>(inner, 1));
  if (const int64_t chunk = ChunkDim(src.dataset, axis); chunk > 0) step = step >= chunk ? step / chunk * chunk : chunk;
  step = std::min(step, src.count[axis]);
  const size_t elem = DTypeSize(src.stored_dtype);
  std::vector<unsigned char> staged(static_cast<size_t>(step * inner) * elem);
  std::vector<int64_t> start = src.start, count = src.count;
  for (int64_t a0 = 0; a0 < src.count[axis]; a0 += step) {
    count[axis] = std::min(step, src.count[axis] - a0);
    start[axis] = src.start[axis] + a0;
    const int64_t m = count[axis] * inner;
    Handle fspace = FileSelection(src.dataset, start, count, where);
    Handle mspace = MemorySelection(count, m, m, where);
    PG_H5_CHECK(H5Dread(src.dataset, src.stored_type, mspace.get(), fspace.get(), H5P_DEFAULT, staged.data()),
                where << ": read failed (truncated or corrupt file?)");
    ConvertBlock(staged.data(), src.stored_dtype, dst, a0 * inner, m, cols, threads);
  }
  (void)n;
}

}  // namespace

void ReadStrided(const StridedSource& src, const StridedDest& dst, const std::string& where, int threads,
                 int64_t stage_elements) {
  PG_CHECK(src.start.size() == src.count.size() && !src.count.empty(),
           where << ": slab start " << ShapeStr(src.start) << " / count " << ShapeStr(src.count));
  const int64_t n = Product(src.count);
  if (n == 0) return;
  PG_CHECK(dst.rows > 0 && n % dst.rows == 0, where << ": a slab of " << n << " elements " << ShapeStr(src.count)
                                                    << " does not split into " << dst.rows << " rows");
  const int64_t cols = n / dst.rows;
  PG_CHECK(dst.stride >= cols && dst.data != nullptr,
           where << ": rows of " << cols << " elements do not fit a destination stride of " << dst.stride);
  if (dst.dtype == src.stored_dtype) {
    ReadInPlace(src, dst, cols, where);
  } else {
    ReadConverted(src, dst, n, cols, where, threads, stage_elements);
  }
}

}  // namespace h5
}  // namespace pg
