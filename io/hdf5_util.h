// Small HDF5 helpers shared by the checkpoint writer and reader: an RAII handle, the
// error-stack-to-text conversion (HDF5's own printing is silenced), and the bf16 type.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

#include "runtime/check.h"

namespace pg {
namespace h5 {

// Owns one hid_t and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Handle() { Reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns the close status (negative on failure).
  herr_t Close() {
    herr_t rc = 0;
    if (id_ >= 0 && close_) rc = close_(id_);
    id_ = -1;
    return rc;
  }
  void Reset() { Close(); }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// Turns off HDF5's automatic printing of its error stack (once per process). Every HDF5
// failure is turned into a pg::Error instead, with ErrorText() appended.
void SilenceErrors();

// The current HDF5 error stack as one line ("H5Fopen: unable to open file; truncated file: ...")
// and clears it.
std::string ErrorText();

// A new copy of the bf16 floating-point type (1 sign, 8 exponent, 7 mantissa bits, bias 127,
// little endian), as described in shared/README.md.
Handle MakeBf16Type();
// True if `type` is exactly that bf16 layout / an IEEE f32 (either byte order).
bool IsBf16Type(hid_t type);
bool IsF32Type(hid_t type);
// "16-bit float (1 sign, 5 exponent, 10 mantissa bits)", "8-bit integer", ... for messages.
std::string DescribeType(hid_t type);

// HDF5 dims <-> int64 shapes.
std::vector<hsize_t> Dims(const std::vector<int64_t>& shape);

}  // namespace h5
}  // namespace pg

// Throws pg::Error with `msg` and the HDF5 error stack if `status` is negative.
#define PG_H5_CHECK(status, msg_stream) \
  PG_CHECK((status) >= 0, msg_stream << " (HDF5: " << ::pg::h5::ErrorText() << ")")
