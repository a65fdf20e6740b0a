// Plain HDF5 arrays for tool outputs and test fixtures (not checkpoints): write and read
// whole float32 / int32 datasets and string lists by name. Errors name file and dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pg {

class H5ArrayFile {
 public:
  // mode "r" opens an existing file, "w" creates (truncates).
  H5ArrayFile(const std::string& path, const char* mode);
  ~H5ArrayFile();
  H5ArrayFile(const H5ArrayFile&) = delete;
  H5ArrayFile& operator=(const H5ArrayFile&) = delete;

  void WriteF32(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void WriteI32(const std::string& name, const std::vector<int64_t>& shape, const int32_t* data);
  void WriteStringAttr(const std::string& name, const std::string& value);

  bool Has(const std::string& name) const;
  std::vector<int64_t> Shape(const std::string& name) const;
  std::vector<float> ReadF32(const std::string& name, std::vector<int64_t>* shape = nullptr) const;
  std::vector<int32_t> ReadI32(const std::string& name, std::vector<int64_t>* shape = nullptr) const;
  std::vector<std::string> ReadStrings(const std::string& name) const;
  double ReadScalarAttr(const std::string& name) const;  // numeric root attribute

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  long long file_ = -1;  // hid_t
};

}  // namespace pg
