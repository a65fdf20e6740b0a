// Reads Hugging Face safetensors checkpoints: one `*.safetensors` file, or a sharded set
// described by `model.safetensors.index.json` ({"weight_map": {tensor: file}}). Dtypes F32,
// F16 and BF16 are read as f32 with pread (a tensor, or a range of its leading rows, at a
// time). Headers are validated on open: JSON syntax, known dtypes, shapes, offsets within the
// file and consistent with shape x dtype; every error names the file and the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pg {

struct SafetensorsTensor {
  std::string name;
  std::string file;             // path of the .safetensors file holding it
  std::string dtype;            // "F32", "F16" or "BF16"
  std::vector<int64_t> shape;
  int64_t num_elements = 0;
  uint64_t offset = 0;          // absolute byte offset of the data in `file`
  uint64_t bytes = 0;
};

class SafetensorsReader {
 public:
  // `path`: a .safetensors file, a model.safetensors.index.json, or a directory holding
  // model.safetensors.index.json or model.safetensors.
  explicit SafetensorsReader(const std::string& path);
  ~SafetensorsReader();
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;

  const std::string& path() const { return path_; }
  // All tensors, ordered by file and offset.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(const std::string& name) const;  // nullptr if absent

  // The whole tensor as f32.
  std::vector<float> ReadAsF32(const std::string& name) const;
  // Elements [start, start + count) of the flattened tensor, into dst.
  void ReadRangeAsF32(const std::string& name, int64_t start, int64_t count, float* dst) const;

 private:
  void OpenFile(const std::string& file);
  std::string path_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, int> fds_;
};

size_t SafetensorsDTypeSize(const std::string& dtype);  // 0 if unsupported

}  // namespace pg
