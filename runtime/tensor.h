// Tensor: a named, shaped, typed view of memory owned by a Backend (host memory for the
// CPU backend, device memory for CUDA). Shapes are written outer to inner, like PyTorch:
// [batch, seq, heads, head_dim]. Copying a Tensor shares its storage.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/check.h"
#include "runtime/dtype.h"

namespace pg {

enum class Device { kCpu, kCuda };

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kF32;
  Device device = Device::kCpu;
  void* data = nullptr;
  std::shared_ptr<void> storage;  // keeps `data` alive

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int rank() const { return static_cast<int>(shape.size()); }
  // dim(-1) is the innermost dimension.
  int64_t dim(int i) const {
    const int r = rank();
    PG_CHECK(i >= -r && i < r, "tensor '" << name << "' " << ShapeStr(shape) << " has no dim " << i);
    return shape[i < 0 ? i + r : i];
  }
  size_t bytes() const { return static_cast<size_t>(numel()) * DTypeSize(dtype); }
  bool empty() const { return data == nullptr; }

  float* f32() {
    PG_CHECK(dtype == DType::kF32 && device == Device::kCpu, "tensor '" << name << "' is not a host f32 tensor");
    return static_cast<float*>(data);
  }
  const float* f32() const { return const_cast<Tensor*>(this)->f32(); }

  // The first numel(new_shape) elements of the same storage, viewed as `new_shape` (a
  // workspace buffer sized for the largest step, used by a smaller one).
  Tensor Prefix(std::vector<int64_t> new_shape) const {
    Tensor t = *this;
    t.shape = std::move(new_shape);
    PG_CHECK(t.numel() <= numel(), "tensor '" << name << "' " << ShapeStr(shape) << " is too small for a view of "
                                                << ShapeStr(t.shape));
    return t;
  }

  // Rows [first, first + count) of this tensor viewed as [rows, dim(-1)], as [count, dim(-1)].
  Tensor RowSlice(int64_t first, int64_t count) const {
    const int64_t cols = dim(-1), rows = cols == 0 ? 0 : numel() / cols;
    PG_CHECK(first >= 0 && count >= 0 && first + count <= rows,
             "tensor '" << name << "' " << ShapeStr(shape) << " has no rows [" << first << ", " << first + count << ")");
    Tensor t = *this;
    t.shape = {count, cols};
    t.data = static_cast<char*>(data) + static_cast<size_t>(first * cols) * DTypeSize(dtype);
    return t;
  }

  // Same storage, new shape with the same element count.
  Tensor Reshaped(std::vector<int64_t> new_shape) const {
    Tensor t = *this;
    t.shape = std::move(new_shape);
    PG_CHECK(t.numel() == numel(), "cannot reshape tensor '" << name << "' " << ShapeStr(shape) << " to "
                                                              << ShapeStr(t.shape));
    return t;
  }
};

// Throws naming the tensor when its shape differs from `expected` (-1 = any size).
inline void CheckShape(const Tensor& t, const std::vector<int64_t>& expected) {
  bool ok = t.shape.size() == expected.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == t.shape[i];
  PG_CHECK(ok, "tensor '" << t.name << "' has shape " << ShapeStr(t.shape) << "; expected " << ShapeStr(expected));
}

}  // namespace pg
