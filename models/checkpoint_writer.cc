#include "models/checkpoint_writer.h"

#include <numeric>
#include <set>
#include <sstream>

#include "io/hdf5_util.h"
#include "runtime/check.h"

namespace pg {
namespace {

constexpr int64_t kMaxChunkBytes = 8 << 20;

int64_t LargestDivisorAtMost(int64_t n, int64_t limit) {
  for (int64_t k = std::min(n, std::max<int64_t>(limit, 1)); k > 1; --k)
    if (n % k == 0) return k;
  return 1;
}

void WriteStringAttr(hid_t obj, const char* name, const std::string& value, const std::string& file) {
  h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  PG_H5_CHECK(type.get(), "checkpoint '" << file << "': cannot create string type");
  PG_H5_CHECK(H5Tset_size(type.get(), std::max<size_t>(value.size(), 1)), "checkpoint '" << file << "'");
  PG_H5_CHECK(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "checkpoint '" << file << "'");
  h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  PG_H5_CHECK(attr.get(), "checkpoint '" << file << "': cannot create attribute '" << name << "'");
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  PG_H5_CHECK(H5Awrite(attr.get(), type.get(), padded.data()),
              "checkpoint '" << file << "': cannot write attribute '" << name << "'");
}

bool Overlaps(const Slab& a, const Slab& b) {
  for (size_t i = 0; i < a.start.size(); ++i)
    if (!(a.start[i] < b.start[i] + b.count[i] && b.start[i] < a.start[i] + a.count[i])) return false;
  return true;
}

}  // namespace

std::vector<int64_t> ChunkShape(const WeightSpec& spec, size_t elem_size) {
  std::vector<int64_t> chunk = spec.shape;
  if (spec.stacked && !chunk.empty()) chunk[0] = 1;
  // k|v and gate|up are separate HF tensors (HfSource::part) written separately: one chunk each.
  for (const HfSource& h : spec.hf)
    if (h.part >= 0) chunk[1] = 1;
  if (spec.shard_axis >= 0) {
    const int64_t d = spec.shape[spec.shard_axis];
    chunk[spec.shard_axis] = d / std::gcd<int64_t>(d, 64);
  }
  const int64_t limit = kMaxChunkBytes / static_cast<int64_t>(elem_size);
  for (size_t a = 0; a < chunk.size(); ++a) {
    int64_t n = 1;
    for (int64_t c : chunk) n *= c;
    if (n <= limit) break;
    const int64_t rest = n / chunk[a], cap = std::max<int64_t>(1, limit / rest);
    int64_t c = LargestDivisorAtMost(chunk[a], cap);
    // A dimension with no divisor near the cap (the 257,151 rows of a converted 3B embedding are
    // 3 x 85,717) would get tiny chunks: 3 rows, 85,717 chunks, minutes of HDF5 metadata work at
    // load. Where no tensor-parallel slab needs whole chunks along this axis (not the shard axis,
    // or a shard axis that no tp > 1 divides), take the cap itself: a partial last chunk.
    const bool tp_slabs = static_cast<int>(a) == spec.shard_axis && std::gcd<int64_t>(spec.shape[a], 64) > 1;
    if (!tp_slabs && c < cap / 8) c = std::min(cap, chunk[a]);
    chunk[a] = c;
  }
  return chunk;
}

struct CheckpointWriter::FileState {
  h5::Handle file;
  h5::Handle bf16;
};

struct CheckpointWriter::Dataset {
  const WeightSpec* spec = nullptr;
  h5::Handle id;
  std::vector<Slab> written;
  int64_t written_elements = 0;
};

CheckpointWriter::CheckpointWriter(const std::string& path, const ModelConfig& config, DType dtype)
    : path_(path), config_(config), dtype_(dtype), file_(new FileState) {
  h5::SilenceErrors();
  config_.Validate("checkpoint '" + path + "'");
  table_ = WeightTable(config_);
  file_->bf16 = h5::MakeBf16Type();
  // No object timestamps anywhere: the same weights always give the same bytes.
  h5::Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  PG_H5_CHECK(H5Pset_obj_track_times(fcpl.get(), 0), "checkpoint '" << path << "'");
  file_->file = h5::Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), H5Fclose);
  PG_H5_CHECK(file_->file.get(), "checkpoint '" << path << "': cannot create file");
  const hid_t root = file_->file.get();
  WriteStringAttr(root, "config", config_.ToJsonText(), path);
  WriteStringAttr(root, "dtype", DTypeName(dtype), path);
  WriteStringAttr(root, "format", kCheckpointFormat, path);

  h5::Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  PG_H5_CHECK(H5Pset_obj_track_times(gcpl.get(), 0), "checkpoint '" << path << "'");
  std::set<std::string> groups;
  for (const WeightSpec& spec : table_) {
    for (size_t slash = spec.name.find('/'); slash != std::string::npos; slash = spec.name.find('/', slash + 1)) {
      const std::string g = spec.name.substr(0, slash);
      if (!groups.insert(g).second) continue;
      h5::Handle grp(H5Gcreate2(root, g.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
      PG_H5_CHECK(grp.get(), "checkpoint '" << path << "': cannot create group '" << g << "'");
    }
  }
  const hid_t ftype = dtype == DType::kBF16 ? file_->bf16.get() : H5T_IEEE_F32LE;
  for (const WeightSpec& spec : table_) {
    const std::vector<hsize_t> dims = h5::Dims(spec.shape);
    const std::vector<hsize_t> chunk = h5::Dims(ChunkShape(spec, DTypeSize(dtype)));
    h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    PG_H5_CHECK(space.get(), "checkpoint '" << path << "': dataspace for '" << spec.name << "'");
    PG_H5_CHECK(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()),
                "checkpoint '" << path << "': chunking '" << spec.name << "'");
    PG_H5_CHECK(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "checkpoint '" << path << "'");
    PG_H5_CHECK(H5Pset_obj_track_times(dcpl.get(), 0), "checkpoint '" << path << "'");
    // A Fletcher-32 checksum per chunk: corrupted weight bytes fail the read instead of
    // loading silently (HDF5 verifies it on every read).
    PG_H5_CHECK(H5Pset_fletcher32(dcpl.get()), "checkpoint '" << path << "': checksum filter");
    auto ds = std::make_unique<Dataset>();
    ds->spec = &spec;
    ds->id = h5::Handle(
        H5Dcreate2(root, spec.name.c_str(), ftype, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
    PG_H5_CHECK(ds->id.get(), "checkpoint '" << path << "': cannot create dataset '" << spec.name << "'");
    datasets_[spec.name] = std::move(ds);
  }
}

CheckpointWriter::~CheckpointWriter() {
  datasets_.clear();
  if (file_) {
    file_->file.Close();
    H5Eclear2(H5E_DEFAULT);
  }
}

void CheckpointWriter::Write(const std::string& name, const float* data) {
  const WeightSpec& spec = FindWeight(table_, name);
  WriteSlab(name, std::vector<int64_t>(spec.shape.size(), 0), spec.shape, data);
}

void CheckpointWriter::WriteSlab(const std::string& name, const std::vector<int64_t>& start,
                                 const std::vector<int64_t>& count, const float* data) {
  PG_CHECK(!finished_, "checkpoint '" << path_ << "': write of '" << name << "' after Finish()");
  auto it = datasets_.find(name);
  PG_CHECK(it != datasets_.end(), "checkpoint '" << path_ << "': no dataset '" << name << "' in the weight table");
  Dataset& ds = *it->second;
  const std::vector<int64_t>& shape = ds.spec->shape;
  PG_CHECK(start.size() == shape.size() && count.size() == shape.size(),
           "checkpoint '" << path_ << "': slab of '" << name << "' has rank " << start.size() << "/" << count.size()
                          << "; dataset has rank " << shape.size());
  for (size_t i = 0; i < shape.size(); ++i)
    PG_CHECK(start[i] >= 0 && count[i] > 0 && start[i] <= shape[i] && count[i] <= shape[i] - start[i],
             "checkpoint '" << path_ << "': slab start " << ShapeStr(start) << " count " << ShapeStr(count)
                            << " lies outside dataset '" << name << "' of shape " << ShapeStr(shape));
  const Slab slab{start, count};
  for (const Slab& w : ds.written)
    PG_CHECK(!Overlaps(w, slab), "checkpoint '" << path_ << "': slab start " << ShapeStr(start) << " count "
                                                << ShapeStr(count) << " of '" << name
                                                << "' overlaps an earlier write (start " << ShapeStr(w.start)
                                                << " count " << ShapeStr(w.count) << ")");
  const int64_t n = CheckedNumElements(count, "slab of '" + name + "'");

  const std::vector<hsize_t> hstart = h5::Dims(start), hcount = h5::Dims(count);
  h5::Handle fspace(H5Dget_space(ds.id.get()), H5Sclose);
  PG_H5_CHECK(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, hstart.data(), nullptr, hcount.data(), nullptr),
              "checkpoint '" << path_ << "': selecting a slab of '" << name << "'");
  h5::Handle mspace(H5Screate_simple(static_cast<int>(hcount.size()), hcount.data(), nullptr), H5Sclose);
  herr_t rc;
  if (dtype_ == DType::kBF16) {
    std::vector<uint16_t> words(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) words[i] = F32ToBf16(data[i]);
    rc = H5Dwrite(ds.id.get(), file_->bf16.get(), mspace.get(), fspace.get(), H5P_DEFAULT, words.data());
  } else {
    rc = H5Dwrite(ds.id.get(), H5T_NATIVE_FLOAT, mspace.get(), fspace.get(), H5P_DEFAULT, data);
  }
  PG_H5_CHECK(rc, "checkpoint '" << path_ << "': writing '" << name << "'");
  ds.written.push_back(slab);
  ds.written_elements += n;
}

void CheckpointWriter::Finish() {
  PG_CHECK(!finished_, "checkpoint '" << path_ << "': Finish() called twice");
  std::ostringstream missing;
  int n_missing = 0;
  for (const WeightSpec& spec : table_) {
    const Dataset& ds = *datasets_.at(spec.name);
    if (ds.written_elements == spec.num_elements) continue;
    missing << (n_missing++ ? ", " : "") << "'" << spec.name << "' (" << ds.written_elements << " of "
            << spec.num_elements << " elements written)";
  }
  PG_CHECK(n_missing == 0, "checkpoint '" << path_ << "': " << n_missing
                                          << " dataset(s) not fully written: " << missing.str());
  for (auto& [name, ds] : datasets_)
    PG_H5_CHECK(ds->id.Close(), "checkpoint '" << path_ << "': closing dataset '" << name << "'");
  PG_H5_CHECK(H5Fflush(file_->file.get(), H5F_SCOPE_GLOBAL), "checkpoint '" << path_ << "': flushing");
  PG_H5_CHECK(file_->file.Close(), "checkpoint '" << path_ << "': closing");
  finished_ = true;
}

}  // namespace pg
