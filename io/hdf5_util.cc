#include "io/hdf5_util.h"

#include <sstream>

namespace pg {
namespace h5 {

void SilenceErrors() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

namespace {

herr_t CollectError(unsigned n, const H5E_error2_t* err, void* data) {
  auto* lines = static_cast<std::vector<std::string>*>(data);
  char minor[256] = {0};
  H5Eget_msg(err->min_num, nullptr, minor, sizeof(minor));
  std::ostringstream os;
  os << (err->func_name ? err->func_name : "?") << ": " << (err->desc ? err->desc : "") << " [" << minor << "]";
  lines->push_back(os.str());
  (void)n;
  return 0;
}

}  // namespace

std::string ErrorText() {
  std::vector<std::string> lines;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectError, &lines);
  H5Eclear2(H5E_DEFAULT);
  if (lines.empty()) return "no HDF5 error recorded";
  // The outermost call and the innermost causes are the informative ones.
  std::string out;
  const size_t keep = 4;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines.size() > keep && i == 1) {
      out += "; ...";
      i = lines.size() - keep + 1;
    }
    out += (out.empty() ? "" : "; ") + lines[i];
  }
  return out;
}

Handle MakeBf16Type() {
  Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  PG_H5_CHECK(t.get(), "cannot create the bf16 HDF5 type");
  // Order matters: fields first, then shrink precision and size (shared/README.md).
  PG_H5_CHECK(H5Tset_fields(t.get(), 15, 7, 8, 0, 7), "cannot create the bf16 HDF5 type");
  PG_H5_CHECK(H5Tset_precision(t.get(), 16), "cannot create the bf16 HDF5 type");
  PG_H5_CHECK(H5Tset_size(t.get(), 2), "cannot create the bf16 HDF5 type");
  PG_H5_CHECK(H5Tset_ebias(t.get(), 127), "cannot create the bf16 HDF5 type");
  return t;
}

namespace {

struct FloatLayout {
  size_t size = 0, precision = 0, offset = 0;
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0, ebias = 0;
  H5T_order_t order = H5T_ORDER_ERROR;
};

bool GetFloatLayout(hid_t type, FloatLayout* f) {
  if (H5Tget_class(type) != H5T_FLOAT) return false;
  f->size = H5Tget_size(type);
  const int prec = H5Tget_precision(type) > 0 ? static_cast<int>(H5Tget_precision(type)) : 0;
  f->precision = static_cast<size_t>(prec);
  const int off = H5Tget_offset(type);
  f->offset = off > 0 ? static_cast<size_t>(off) : 0;
  if (H5Tget_fields(type, &f->spos, &f->epos, &f->esize, &f->mpos, &f->msize) < 0) return false;
  f->ebias = H5Tget_ebias(type);
  f->order = H5Tget_order(type);
  return true;
}

}  // namespace

bool IsBf16Type(hid_t type) {
  FloatLayout f;
  if (!GetFloatLayout(type, &f)) return false;
  return f.size == 2 && f.precision == 16 && f.offset == 0 && f.spos == 15 && f.epos == 7 && f.esize == 8 &&
         f.mpos == 0 && f.msize == 7 && f.ebias == 127 && f.order == H5T_ORDER_LE;
}

bool IsF32Type(hid_t type) {
  if (H5Tget_class(type) != H5T_FLOAT) return false;
  return H5Tequal(type, H5T_IEEE_F32LE) > 0 || H5Tequal(type, H5T_IEEE_F32BE) > 0;
}

std::string DescribeType(hid_t type) {
  std::ostringstream os;
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_FLOAT: {
      FloatLayout f;
      GetFloatLayout(type, &f);
      os << bits << "-bit float (" << f.esize << " exponent, " << f.msize << " mantissa bits, bias " << f.ebias
         << (f.order == H5T_ORDER_BE ? ", big endian" : "") << ")";
      break;
    }
    case H5T_INTEGER:
      os << bits << "-bit " << (H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned " : "") << "integer";
      break;
    case H5T_STRING: os << "string"; break;
    case H5T_COMPOUND: os << "compound type"; break;
    case H5T_ARRAY: os << "array type"; break;
    case H5T_ENUM: os << "enum type"; break;
    case H5T_OPAQUE: os << "opaque type"; break;
    case H5T_VLEN: os << "variable-length type"; break;
    case H5T_REFERENCE: os << "reference type"; break;
    case H5T_BITFIELD: os << "bitfield"; break;
    default: os << "unknown type"; break;
  }
  return os.str();
}

std::vector<hsize_t> Dims(const std::vector<int64_t>& shape) {
  return std::vector<hsize_t>(shape.begin(), shape.end());
}

}  // namespace h5
}  // namespace pg
