#include "models/checkpoint_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "models/checkpoint_writer.h"
#include "models/hdf5_storage_check.h"
#include "runtime/run_in_child.h"
#include "io/hdf5_strided_read.h"
#include "io/hdf5_util.h"
#include "runtime/check.h"

namespace pg {
namespace {

// Says what a non-HDF5 file looks like, for the error message.
std::string SniffNonHdf5(const std::string& path, int64_t size) {
  if (size == 0) return "is empty";
  unsigned char head[16] = {0};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  if (head[0] == 'P' && head[1] == 'K' && (head[2] == 3 || head[2] == 5) && (head[3] == 4 || head[3] == 6))
    return "is a zip archive (a big_vision .npz?), not an HDF5 checkpoint; convert it with "
           "`paligemma convert --from npz`";
  uint64_t hlen = 0;
  std::memcpy(&hlen, head, 8);
  if (size > 9 && hlen > 0 && hlen <= static_cast<uint64_t>(size) - 8 && head[8] == '{')
    return "looks like a safetensors file, not an HDF5 checkpoint; convert it with `paligemma convert --from hf`";
  return "is not an HDF5 file (no HDF5 signature)";
}

struct LinkInfo {
  std::vector<std::string> datasets;
  std::vector<std::string> bad;  // "'name' (external link)" ...
};

herr_t VisitLink(hid_t group, const char* name, const H5L_info_t* info, void* data) {
  auto* out = static_cast<LinkInfo*>(data);
  if (info->type == H5L_TYPE_EXTERNAL) {
    out->bad.push_back(std::string("'") + name + "' (external link)");
    return 0;
  }
  if (info->type != H5L_TYPE_HARD) {
    out->bad.push_back(std::string("'") + name + "' (soft or user-defined link)");
    return 0;
  }
  H5O_info_t oinfo;
  if (H5Oget_info_by_name2(group, name, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
  if (oinfo.type == H5O_TYPE_DATASET)
    out->datasets.push_back(name);
  else if (oinfo.type != H5O_TYPE_GROUP)
    out->bad.push_back(std::string("'") + name + "' (named datatype or unknown object)");
  return 0;
}

std::string ReadStringAttr(hid_t obj, const char* name, const std::string& file) {
  PG_CHECK(H5Aexists(obj, name) > 0, "checkpoint '" << file << "': no root attribute '" << name
                                                    << "'; not a paligemma-tp checkpoint (format "
                                                    << kCheckpointFormat << ")");
  h5::Handle attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  PG_H5_CHECK(attr.get(), "checkpoint '" << file << "': cannot open attribute '" << name << "'");
  h5::Handle type(H5Aget_type(attr.get()), H5Tclose);
  h5::Handle space(H5Aget_space(attr.get()), H5Sclose);
  PG_H5_CHECK(type.get(), "checkpoint '" << file << "': attribute '" << name << "'");
  PG_CHECK(H5Tget_class(type.get()) == H5T_STRING && H5Sget_simple_extent_npoints(space.get()) == 1,
           "checkpoint '" << file << "': attribute '" << name << "' is not a single string");
  if (H5Tis_variable_str(type.get()) > 0) {
    h5::Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    char* s = nullptr;
    PG_H5_CHECK(H5Aread(attr.get(), mem.get(), &s), "checkpoint '" << file << "': reading attribute '" << name << "'");
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  const size_t n = H5Tget_size(type.get());
  PG_CHECK(n > 0 && n < (64u << 20), "checkpoint '" << file << "': attribute '" << name << "' has size " << n);
  h5::Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), n);
  H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);  // the writer stores n bytes with no terminator
  std::string buf(n, '\0');
  PG_H5_CHECK(H5Aread(attr.get(), mem.get(), &buf[0]), "checkpoint '" << file << "': reading attribute '" << name << "'");
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

std::string Joined(const std::vector<std::string>& v, size_t max_items = 12) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size() && i < max_items; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > max_items) os << ", ... (" << v.size() << " in all)";
  return os.str();
}

int64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{1} << 40;
}

}  // namespace

struct CheckpointReader::State {
  h5::Handle file;
  h5::Handle bf16;
  std::map<std::string, h5::Handle> datasets;
};

CheckpointReader::CheckpointReader(const std::string& path) : path_(path), state_(new State) {
  h5::SilenceErrors();
  // libhdf5 1.10 can crash on corrupt metadata (fuzz/README.md): validate once in a child
  // process first, so that such a file is an error naming it, then again here to keep the state.
  RunInChild("checkpoint '" + path + "'", [this] { OpenAndValidate(); });
  OpenAndValidate();
}

CheckpointReader::~CheckpointReader() = default;

void CheckpointReader::OpenAndValidate() {
  const std::string& f = path_;
  struct stat st;
  PG_CHECK(stat(f.c_str(), &st) == 0, "checkpoint '" << f << "': no such file");
  PG_CHECK(S_ISREG(st.st_mode), "checkpoint '" << f << "': not a regular file");
  const htri_t is_h5 = H5Fis_hdf5(f.c_str());
  H5Eclear2(H5E_DEFAULT);
  PG_CHECK(is_h5 > 0, "checkpoint '" << f << "' " << SniffNonHdf5(f, st.st_size));
  // No file locks: checkpoints are immutable once renamed into place (writers use OUT.tmp),
  // and locks fail on some network filesystems where many ranks open the same file.
  h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  PG_H5_CHECK(H5Pset_file_locking(fapl.get(), 0, 1), "checkpoint '" << f << "'");
  state_->file = h5::Handle(H5Fopen(f.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  PG_H5_CHECK(state_->file.get(), "checkpoint '" << f << "': cannot open as HDF5 (truncated or corrupt?)");
  state_->bf16 = h5::MakeBf16Type();
  const hid_t root = state_->file.get();

  const std::string format = ReadStringAttr(root, "format", f);
  PG_CHECK(format == kCheckpointFormat, "checkpoint '" << f << "': format is '" << format << "'; expected '"
                                                       << kCheckpointFormat << "'");
  const std::string dtype = ReadStringAttr(root, "dtype", f);
  PG_CHECK(dtype == "f32" || dtype == "bf16",
           "checkpoint '" << f << "': attribute dtype is '" << dtype << "'; expected 'f32' or 'bf16'");
  dtype_ = dtype == "bf16" ? DType::kBF16 : DType::kF32;
  config_ = ModelConfig::FromJsonText(ReadStringAttr(root, "config", f), "in checkpoint '" + f + "'");
  table_ = WeightTable(config_);

  hsize_t file_size = 0;
  PG_H5_CHECK(H5Fget_filesize(root, &file_size), "checkpoint '" << f << "': cannot read its size");
  LinkInfo links;
  PG_H5_CHECK(H5Lvisit(root, H5_INDEX_NAME, H5_ITER_INC, VisitLink, &links),
              "checkpoint '" << f << "': cannot list its objects (truncated or corrupt?)");
  PG_CHECK(links.bad.empty(), "checkpoint '" << f << "': unsupported objects: " << Joined(links.bad)
                                             << "; a checkpoint must be one self-contained file");
  std::set<std::string> present(links.datasets.begin(), links.datasets.end());
  std::vector<std::string> missing, extra;
  std::set<std::string> expected;
  for (const WeightSpec& s : table_) {
    expected.insert(s.name);
    if (!present.count(s.name)) missing.push_back("'" + s.name + "'");
  }
  for (const std::string& name : links.datasets)
    if (!expected.count(name)) extra.push_back("'" + name + "'");
  PG_CHECK(missing.empty(), "checkpoint '" << f << "': missing dataset(s) " << Joined(missing) << " (model '"
                                           << config_.name << "')");
  PG_CHECK(extra.empty(), "checkpoint '" << f << "': unexpected dataset(s) " << Joined(extra) << " (model '"
                                         << config_.name << "')");

  for (const WeightSpec& s : table_) {
    const std::string where = "checkpoint '" + f + "': dataset '" + s.name + "'";
    h5::Handle ds(H5Dopen2(root, s.name.c_str(), H5P_DEFAULT), H5Dclose);
    PG_H5_CHECK(ds.get(), where << ": cannot open");
    h5::Handle space(H5Dget_space(ds.get()), H5Sclose);
    PG_H5_CHECK(space.get(), where << ": cannot read its dataspace");
    const int rank = H5Sget_simple_extent_ndims(space.get());
    PG_H5_CHECK(rank, where << ": cannot read its rank");
    std::vector<hsize_t> dims(rank);
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::vector<int64_t> shape(dims.begin(), dims.end());
    PG_CHECK(shape == s.shape, where << " has shape " << ShapeStr(shape) << "; expected " << ShapeStr(s.shape));
    h5::Handle type(H5Dget_type(ds.get()), H5Tclose);
    PG_H5_CHECK(type.get(), where << ": cannot read its type");
    const bool ok = dtype_ == DType::kBF16 ? h5::IsBf16Type(type.get()) : h5::IsF32Type(type.get());
    PG_CHECK(ok, where << " has type " << h5::DescribeType(type.get()) << "; expected "
                       << (dtype_ == DType::kBF16 ? "bf16" : "IEEE f32") << " (the file's dtype attribute)");
    h5::CheckDatasetStorage(ds.get(), s.shape, DTypeSize(dtype_), file_size, where);
    state_->datasets[s.name] = std::move(ds);
  }
}

std::vector<float> CheckpointReader::ReadF32(const std::string& name) const {
  return ReadF32(name, WholeSlab(FindWeight(table_, name)));
}

std::vector<float> CheckpointReader::ReadF32(const std::string& name, const Slab& slab) const {
  const int64_t n = CheckedNumElements(slab.count, "checkpoint '" + path_ + "': slab of '" + name + "'");
  int64_t bytes = 0;
  PG_CHECK(!__builtin_mul_overflow(n, int64_t{4}, &bytes) && bytes <= PhysicalMemoryBytes(),
           "checkpoint '" << path_ << "': reading slab " << ShapeStr(slab.count) << " of '" << name
                          << "' would need more memory than this machine has");
  std::vector<float> out(static_cast<size_t>(n));
  ReadF32Into(name, slab, out.data());
  return out;
}

namespace {

// Throws naming the dataset and the global index of the first element i < n for which
// finite(i) is false.
template <typename FiniteFn>
void CheckFiniteValues(const std::string& where, const Slab& slab, int64_t n, FiniteFn finite) {
  for (int64_t i = 0; i < n; ++i) {
    if (finite(i)) continue;
    std::vector<int64_t> idx(slab.count.size());
    int64_t r = i;
    for (size_t a = idx.size(); a-- > 0;) {
      idx[a] = slab.start[a] + r % slab.count[a];
      r /= slab.count[a];
    }
    PG_THROW(where << " holds a non-finite value (NaN or Inf) at index " << ShapeStr(idx));
  }
}

}  // namespace

void CheckpointReader::ReadF32Into(const std::string& name, const Slab& slab, float* out) const {
  ReadInto(name, slab, {out, DType::kF32, 1, 0});
}

std::vector<uint16_t> CheckpointReader::ReadBf16(const std::string& name, const Slab& slab) const {
  const int64_t n = CheckedNumElements(slab.count, "checkpoint '" + path_ + "': slab of '" + name + "'");
  PG_CHECK(n <= PhysicalMemoryBytes() / 2, "checkpoint '" << path_ << "': reading slab " << ShapeStr(slab.count)
                                                          << " of '" << name << "' would need more memory than this machine has");
  std::vector<uint16_t> out(static_cast<size_t>(n));
  ReadBf16Into(name, slab, out.data());
  return out;
}

void CheckpointReader::ReadBf16Into(const std::string& name, const Slab& slab, uint16_t* out) const {
  ReadInto(name, slab, {out, DType::kBF16, 1, 0});
}

void CheckpointReader::ReadInto(const std::string& name, const Slab& slab, const h5::StridedDest& dst,
                                int threads) const {
  const std::string where = "checkpoint '" + path_ + "': dataset '" + name + "'";
  auto it = state_->datasets.find(name);
  PG_CHECK(it != state_->datasets.end(), where << " is not in the weight table");
  const WeightSpec& spec = FindWeight(table_, name);
  const size_t rank = spec.shape.size();
  PG_CHECK(slab.start.size() == rank && slab.count.size() == rank,
           where << ": slab has rank " << slab.start.size() << "/" << slab.count.size() << "; dataset has rank " << rank);
  for (size_t i = 0; i < rank; ++i)
    PG_CHECK(slab.start[i] >= 0 && slab.count[i] >= 0 && slab.start[i] <= spec.shape[i] &&
                 slab.count[i] <= spec.shape[i] - slab.start[i],
             where << ": slab start " << ShapeStr(slab.start) << " count " << ShapeStr(slab.count)
                   << " lies outside shape " << ShapeStr(spec.shape));
  const int64_t n = CheckedNumElements(slab.count, where);
  if (n == 0) return;
  h5::StridedDest d = dst;
  if (d.stride == 0 && d.rows > 0) d.stride = n / d.rows;  // contiguous
  h5::StridedSource src;
  src.dataset = it->second.get();
  src.stored_dtype = dtype_;
  src.stored_type = dtype_ == DType::kBF16 ? state_->bf16.get() : H5T_NATIVE_FLOAT;
  src.start = slab.start;
  src.count = slab.count;
  h5::ReadStrided(src, d, where, threads);
  if (!check_finite_) return;
  const int64_t cols = n / d.rows;
  CheckFiniteValues(where, slab, n, [&](int64_t i) {
    const int64_t at = (i / cols) * d.stride + i % cols;
    return d.dtype == DType::kF32 ? std::isfinite(static_cast<const float*>(d.data)[at])
                                  : (static_cast<const uint16_t*>(d.data)[at] & 0x7f80) != 0x7f80;
  });
}

}  // namespace pg
