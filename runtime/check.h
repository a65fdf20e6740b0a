// Error handling for paligemma-tp: one exception type that carries file, line and
// a message built with stream syntax, so every error names its input.
//
//   PG_CHECK(shape == expected, "tensor '" << name << "' in " << file << " has shape "
//            << ShapeStr(shape) << "; expected " << ShapeStr(expected));
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pg {

class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& msg)
      : std::runtime_error(msg), file_(file), line_(line) {}
  const char* file() const { return file_; }
  int line() const { return line_; }

 private:
  const char* file_;
  int line_;
};

// "[2, 3, 4]" for error messages.
inline std::string ShapeStr(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}


}  // namespace pg

#define PG_THROW(msg_stream)                                            \
  do {                                                                  \
    std::ostringstream pg_err_os_;                                      \
    pg_err_os_ << msg_stream;                                           \
    throw ::pg::Error(__FILE__, __LINE__, pg_err_os_.str());            \
  } while (0)

#define PG_CHECK(cond, msg_stream)                                      \
  do {                                                                  \
    if (!(cond)) PG_THROW(msg_stream);                                  \
  } while (0)

namespace pg {

// Product of `shape`; throws naming `what` on a negative dim or int64 overflow.
inline int64_t CheckedNumElements(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    PG_CHECK(d >= 0, what << ": negative dimension in shape " << ShapeStr(shape));
    PG_CHECK(!__builtin_mul_overflow(n, d, &n),
             what << ": shape " << ShapeStr(shape) << " has more elements than fit in 64 bits");
  }
  return n;
}

}  // namespace pg
