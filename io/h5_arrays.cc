#include "io/h5_arrays.h"

#include <hdf5.h>

#include <cstring>

#include "io/hdf5_util.h"
#include "runtime/check.h"

namespace pg {
namespace {

h5::Handle OpenDataset(hid_t file, const std::string& path, const std::string& name) {
  PG_CHECK(H5Lexists(file, name.c_str(), H5P_DEFAULT) > 0, "file '" << path << "' has no dataset '" << name << "'");
  hid_t d = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  PG_H5_CHECK(d, "file '" << path << "': cannot open dataset '" << name << "'");
  return h5::Handle(d, H5Dclose);
}

std::vector<int64_t> DatasetShape(hid_t dset) {
  h5::Handle space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

void Write(hid_t file, const std::string& path, const std::string& name, const std::vector<int64_t>& shape,
           hid_t type, const void* data) {
  std::vector<hsize_t> dims = h5::Dims(shape);
  h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  h5::Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  h5::Handle d(H5Dcreate2(file, name.c_str(), type, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  PG_H5_CHECK(d.get(), "file '" << path << "': cannot create dataset '" << name << "'");
  PG_H5_CHECK(H5Dwrite(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
              "file '" << path << "': cannot write dataset '" << name << "'");
}

template <typename T>
std::vector<T> Read(hid_t file, const std::string& path, const std::string& name, hid_t mem_type,
                    std::vector<int64_t>* shape) {
  h5::Handle d = OpenDataset(file, path, name);
  std::vector<int64_t> s = DatasetShape(d.get());
  int64_t n = 1;
  for (int64_t x : s) n *= x;
  std::vector<T> out(n);
  PG_H5_CHECK(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
              "file '" << path << "': cannot read dataset '" << name << "'");
  if (shape) *shape = s;
  return out;
}

}  // namespace

H5ArrayFile::H5ArrayFile(const std::string& path, const char* mode) : path_(path) {
  h5::SilenceErrors();
  if (std::strcmp(mode, "w") == 0) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  } else {
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  }
  PG_H5_CHECK(file_, "cannot open HDF5 file '" << path << "' (mode " << mode << ")");
}

H5ArrayFile::~H5ArrayFile() {
  if (file_ >= 0) H5Fclose(file_);
}

void H5ArrayFile::WriteF32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  Write(file_, path_, name, shape, H5T_NATIVE_FLOAT, data);
}

void H5ArrayFile::WriteI32(const std::string& name, const std::vector<int64_t>& shape, const int32_t* data) {
  Write(file_, path_, name, shape, H5T_NATIVE_INT32, data);
}

void H5ArrayFile::WriteStringAttr(const std::string& name, const std::string& value) {
  h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.size() + 1);
  h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Handle a(H5Acreate2(file_, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  PG_H5_CHECK(a.get(), "file '" << path_ << "': cannot create attribute '" << name << "'");
  PG_H5_CHECK(H5Awrite(a.get(), type.get(), value.c_str()), "file '" << path_ << "': cannot write '" << name << "'");
}

bool H5ArrayFile::Has(const std::string& name) const { return H5Lexists(file_, name.c_str(), H5P_DEFAULT) > 0; }

std::vector<int64_t> H5ArrayFile::Shape(const std::string& name) const {
  h5::Handle d = OpenDataset(file_, path_, name);
  return DatasetShape(d.get());
}

std::vector<float> H5ArrayFile::ReadF32(const std::string& name, std::vector<int64_t>* shape) const {
  return Read<float>(file_, path_, name, H5T_NATIVE_FLOAT, shape);
}

std::vector<int32_t> H5ArrayFile::ReadI32(const std::string& name, std::vector<int64_t>* shape) const {
  return Read<int32_t>(file_, path_, name, H5T_NATIVE_INT32, shape);
}

std::vector<std::string> H5ArrayFile::ReadStrings(const std::string& name) const {
  h5::Handle d = OpenDataset(file_, path_, name);
  h5::Handle ftype(H5Dget_type(d.get()), H5Tclose);
  PG_CHECK(H5Tget_class(ftype.get()) == H5T_STRING, "file '" << path_ << "': dataset '" << name << "' is not strings");
  const std::vector<int64_t> s = DatasetShape(d.get());
  size_t n = 1;
  for (int64_t x : s) n *= x;
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    h5::Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    std::vector<char*> ptrs(n);
    PG_H5_CHECK(H5Dread(d.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()),
                "file '" << path_ << "': cannot read strings '" << name << "'");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    h5::Handle space(H5Dget_space(d.get()), H5Sclose);
    H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = H5Tget_size(ftype.get());
    std::vector<char> buf(n * len);
    PG_H5_CHECK(H5Dread(d.get(), ftype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                "file '" << path_ << "': cannot read strings '" << name << "'");
    for (size_t i = 0; i < n; ++i) out.emplace_back(strnlen(buf.data() + i * len, len) ? std::string(buf.data() + i * len, strnlen(buf.data() + i * len, len)) : "");
  }
  return out;
}

double H5ArrayFile::ReadScalarAttr(const std::string& name) const {
  PG_CHECK(H5Aexists(file_, name.c_str()) > 0, "file '" << path_ << "' has no attribute '" << name << "'");
  h5::Handle a(H5Aopen(file_, name.c_str(), H5P_DEFAULT), H5Aclose);
  double v = 0;
  PG_H5_CHECK(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v), "file '" << path_ << "': cannot read attribute '" << name << "'");
  return v;
}

}  // namespace pg
