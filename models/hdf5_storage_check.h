// Defensive validation of one HDF5 dataset's storage before any read: HDF5 trusts its
// metadata, and a corrupted layout message or chunk index can crash it inside H5Dread.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pg {
namespace h5 {

// Throws pg::Error naming `where` unless dataset `ds` (shape `shape`, stored elements of
// `elem_size` bytes, in a file of `file_size` bytes):
//   - keeps its data in this file: no external storage, not a virtual dataset;
//   - uses only filters this HDF5 library has;
//   - if contiguous: lies within the file; if chunked: has chunk dims in [1, dim] and under
//     4 GiB, and EVERY chunk allocated (a missing chunk = an incompletely written file),
//     inside the file, with the exact stored size when unfiltered or the only filter is
//     Fletcher-32.
void CheckDatasetStorage(hid_t ds, const std::vector<int64_t>& shape, size_t elem_size, uint64_t file_size,
                         const std::string& where);

}  // namespace h5
}  // namespace pg
