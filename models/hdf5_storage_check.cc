#include "models/hdf5_storage_check.h"

#include "io/hdf5_util.h"
#include "runtime/check.h"

namespace pg {
namespace h5 {
namespace {

void CheckChunks(hid_t ds, hid_t dcpl, const std::vector<int64_t>& shape, size_t elem_size, uint64_t file_size,
                 int chunk_overhead, const std::string& where) {
  const int rank = static_cast<int>(shape.size());
  PG_CHECK(H5Pget_chunk(dcpl, 0, nullptr) == rank, where << ": chunk rank does not match the dataset rank " << rank);
  std::vector<hsize_t> chunk(rank);
  H5Pget_chunk(dcpl, rank, chunk.data());
  uint64_t chunk_bytes = elem_size;
  uint64_t n_chunks = 1;
  for (int a = 0; a < rank; ++a) {
    PG_CHECK(chunk[a] >= 1 && chunk[a] <= static_cast<hsize_t>(std::max<int64_t>(shape[a], 1)),
             where << ": chunk dimension " << a << " is " << chunk[a] << " for a dataset dimension of " << shape[a]
                   << " (corrupt file?)");
    chunk_bytes *= chunk[a];
    PG_CHECK(chunk_bytes < (uint64_t{1} << 32), where << ": chunks of " << ShapeStr({chunk.begin(), chunk.end()})
                                                      << " exceed HDF5's 4 GiB chunk limit (corrupt file?)");
    n_chunks *= (static_cast<uint64_t>(shape[a]) + chunk[a] - 1) / chunk[a];
  }
  h5::Handle space(H5Dget_space(ds), H5Sclose);
  hsize_t stored = 0;
  PG_H5_CHECK(H5Dget_num_chunks(ds, space.get(), &stored), where << ": cannot read its chunk index (corrupt file?)");
  PG_CHECK(stored == n_chunks, where << ": " << stored << " of its " << n_chunks
                                     << " chunks are stored (an incompletely written file?)");
  // Visit every chunk of the grid by its coordinates.
  std::vector<hsize_t> coord(rank, 0);
  for (uint64_t k = 0; k < n_chunks; ++k) {
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    PG_H5_CHECK(H5Dget_chunk_info_by_coord(ds, coord.data(), &mask, &addr, &size),
                where << ": cannot look up the chunk at " << ShapeStr({coord.begin(), coord.end()}) << " (corrupt file?)");
    PG_CHECK(addr != HADDR_UNDEF, where << ": the chunk at " << ShapeStr({coord.begin(), coord.end()})
                                        << " was never written (an incompletely written file?)");
    PG_CHECK(addr <= file_size && size <= file_size - addr,
             where << ": the chunk at " << ShapeStr({coord.begin(), coord.end()}) << " lies beyond the end of the file");
    if (chunk_overhead >= 0) {
      const uint64_t want = chunk_bytes + ((mask & 1) ? 0 : chunk_overhead);
      PG_CHECK(size == want, where << ": the chunk at " << ShapeStr({coord.begin(), coord.end()}) << " holds " << size
                                   << " bytes; expected " << want << " (corrupt file?)");
    }
    for (int a = rank - 1; a >= 0; --a) {  // next chunk, C order
      coord[a] += chunk[a];
      if (coord[a] < static_cast<hsize_t>(shape[a])) break;
      coord[a] = 0;
    }
  }
}

}  // namespace

void CheckDatasetStorage(hid_t ds, const std::vector<int64_t>& shape, size_t elem_size, uint64_t file_size,
                         const std::string& where) {
  h5::Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
  PG_H5_CHECK(dcpl.get(), where << ": cannot read its creation properties");
  PG_CHECK(H5Pget_external_count(dcpl.get()) == 0, where << " uses external storage (raw data in other files)");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  PG_CHECK(layout != H5D_VIRTUAL, where << " is a virtual dataset (data in other files)");
  // Bytes a stored chunk holds beyond its raw elements, when known: 0 unfiltered, 4 with only
  // Fletcher-32 (its checksum); -1 when a filter may change the size (deflate, shuffle, ...).
  int chunk_overhead = 0;
  for (int k = 0, n = H5Pget_nfilters(dcpl.get()); k < n; ++k) {
    unsigned flags = 0;
    size_t nvals = 0;
    char fname[64] = {0};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), k, &flags, &nvals, nullptr, sizeof fname, fname, nullptr);
    PG_CHECK(id >= 0 && H5Zfilter_avail(id) > 0,
             where << " uses HDF5 filter " << id << " (" << fname << "), which this HDF5 library lacks");
    chunk_overhead = chunk_overhead == 0 && id == H5Z_FILTER_FLETCHER32 ? 4 : -1;
  }
  if (layout == H5D_CHUNKED) {
    CheckChunks(ds, dcpl.get(), shape, elem_size, file_size, chunk_overhead, where);
  } else if (layout == H5D_CONTIGUOUS) {
    const haddr_t addr = H5Dget_offset(ds);
    const hsize_t size = H5Dget_storage_size(ds);
    PG_CHECK(addr != HADDR_UNDEF, where << " was never written (an incompletely written file?)");
    PG_CHECK(addr <= file_size && size <= file_size - addr, where << ": its data lies beyond the end of the file");
  } else {
    PG_CHECK(layout == H5D_COMPACT, where << ": unknown storage layout (corrupt file?)");
  }
  H5Eclear2(H5E_DEFAULT);
}

}  // namespace h5
}  // namespace pg
