#include "io/npz_reader.h"

#include <cctype>
#include <cstring>

#include "runtime/check.h"
#include "runtime/dtype.h"

namespace pg {

const char* NpyDTypeName(NpyDType t) {
  switch (t) {
    case NpyDType::kF32: return "float32 '<f4'";
    case NpyDType::kF16: return "float16 '<f2'";
    case NpyDType::kBF16: return "bfloat16 '|V2'";
  }
  return "?";
}

size_t NpyDTypeSize(NpyDType t) { return t == NpyDType::kF32 ? 4 : 2; }

namespace {

// A tiny parser for the Python dict literal of a .npy header.
class DictParser {
 public:
  DictParser(const std::string& s, const std::string& where) : s_(s), where_(where) {}

  void Parse(NpzMember* m) {
    bool have_descr = false, have_order = false, have_shape = false;
    Expect('{');
    while (true) {
      Skip();
      if (Peek() == '}') break;
      const std::string key = String();
      Expect(':');
      Skip();
      if (key == "descr") {
        PG_CHECK(Peek() == '\'' || Peek() == '"',
                 where_ << ": structured dtypes are not supported (descr is not a string)");
        const std::string d = String();
        if (d == "<f4")
          m->dtype = NpyDType::kF32;
        else if (d == "<f2")
          m->dtype = NpyDType::kF16;
        else if (d == "|V2" || d == "<V2")
          m->dtype = NpyDType::kBF16;
        else
          PG_THROW(where_ << ": dtype '" << d << "' is not supported (expected '<f4', '<f2' or '|V2' bfloat16)");
        have_descr = true;
      } else if (key == "fortran_order") {
        const std::string w = Word();
        PG_CHECK(w == "False" || w == "True", where_ << ": fortran_order is '" << w << "'");
        PG_CHECK(w == "False", where_ << ": Fortran-order arrays are not supported (save with C order)");
        have_order = true;
      } else if (key == "shape") {
        m->shape = Tuple();
        have_shape = true;
      } else {
        PG_THROW(where_ << ": unexpected key '" << key << "' in the .npy header");
      }
      Skip();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      Expect('}');
      --pos_;
    }
    PG_CHECK(have_descr && have_order && have_shape,
             where_ << ": .npy header lacks one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char Peek() {
    PG_CHECK(pos_ < s_.size(), where_ << ": .npy header ends early: " << s_);
    return s_[pos_];
  }
  void Expect(char c) {
    Skip();
    PG_CHECK(Peek() == c, where_ << ": malformed .npy header (expected '" << c << "' at offset " << pos_ << "): " << s_);
    ++pos_;
  }
  std::string String() {
    Skip();
    const char q = Peek();
    PG_CHECK(q == '\'' || q == '"', where_ << ": malformed .npy header (expected a string at offset " << pos_ << ")");
    const size_t end = s_.find(q, pos_ + 1);
    PG_CHECK(end != std::string::npos, where_ << ": malformed .npy header (unterminated string)");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  std::string Word() {
    Skip();
    const size_t b = pos_;
    while (pos_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    return s_.substr(b, pos_ - b);
  }
  std::vector<int64_t> Tuple() {
    std::vector<int64_t> dims;
    Expect('(');
    while (true) {
      Skip();
      if (Peek() == ')') break;
      int64_t v = 0;
      PG_CHECK(std::isdigit(static_cast<unsigned char>(Peek())), where_ << ": malformed shape in .npy header: " << s_);
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        PG_CHECK(!__builtin_mul_overflow(v, int64_t{10}, &v) && !__builtin_add_overflow(v, s_[pos_] - '0', &v),
                 where_ << ": shape dimension too large in .npy header");
        ++pos_;
      }
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long
      dims.push_back(v);
      Skip();
      if (Peek() == ',') ++pos_;
    }
    ++pos_;
    return dims;
  }

  const std::string& s_;
  const std::string& where_;
  size_t pos_ = 0;
};

}  // namespace

void ParseNpyHeaderDict(const std::string& dict, NpzMember* m, const std::string& where) {
  DictParser(dict, where).Parse(m);
  m->num_elements = CheckedNumElements(m->shape, where);
}

NpzReader::NpzReader(const std::string& path) : zip_(path) {
  for (size_t i = 0; i < zip_.entries().size(); ++i) {
    const ZipEntry& e = zip_.entries()[i];
    const std::string where = "npz '" + path + "': member '" + e.name + "'";
    PG_CHECK(e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, ".npy") == 0,
             where << " is not a .npy array");
    NpzMember m;
    m.name = e.name.substr(0, e.name.size() - 4);
    m.entry = i;
    ZipMemberStream s(zip_, e);
    unsigned char pre[12];
    PG_CHECK(e.size >= 10, where << " is too short to be a .npy array");
    s.Read(pre, 10);
    PG_CHECK(std::memcmp(pre, "\x93NUMPY", 6) == 0, where << " has no .npy magic");
    const int major = pre[6];
    uint64_t hlen = 0, prelude = 10;
    if (major == 1) {
      hlen = pre[8] | (pre[9] << 8);
    } else if (major == 2 || major == 3) {
      PG_CHECK(e.size >= 12, where << " is too short to be a .npy array");
      s.Read(pre + 10, 2);
      hlen = pre[8] | (pre[9] << 8) | (pre[10] << 16) | (static_cast<uint64_t>(pre[11]) << 24);
      prelude = 12;
    } else {
      PG_THROW(where << ": .npy format version " << major << " is not supported (1, 2, 3 are)");
    }
    PG_CHECK(hlen <= (16u << 20) && prelude + hlen <= e.size, where << ": .npy header length " << hlen
                                                                   << " exceeds the member (" << e.size << " bytes)");
    std::string dict(hlen, '\0');
    s.Read(&dict[0], hlen);
    ParseNpyHeaderDict(dict, &m, where);
    m.header_bytes = prelude + hlen;
    uint64_t data_bytes = 0;
    PG_CHECK(!__builtin_mul_overflow(static_cast<uint64_t>(m.num_elements), NpyDTypeSize(m.dtype), &data_bytes),
             where << ": shape " << ShapeStr(m.shape) << " is too large");
    PG_CHECK(e.size - m.header_bytes == data_bytes,
             where << " holds " << e.size - m.header_bytes << " data bytes; shape " << ShapeStr(m.shape) << " of "
                   << NpyDTypeName(m.dtype) << " needs " << data_bytes << " (truncated member?)");
    members_.push_back(std::move(m));
  }
}

NpzReader::~NpzReader() = default;

const NpzMember* NpzReader::Find(const std::string& name) const {
  for (const NpzMember& m : members_)
    if (m.name == name) return &m;
  return nullptr;
}

std::unique_ptr<NpzReader::Stream> NpzReader::Open(const NpzMember& m) const {
  return std::make_unique<Stream>(*this, m);
}

std::vector<float> NpzReader::ReadAsF32(const NpzMember& m) const {
  std::vector<float> out(static_cast<size_t>(m.num_elements));
  auto s = Open(m);
  s->Read(out.data(), m.num_elements);
  s->Finish();
  return out;
}

NpzReader::Stream::Stream(const NpzReader& npz, const NpzMember& m)
    : npz_(npz), member_(m), bytes_(new ZipMemberStream(npz.zip_, npz.zip_.entries().at(m.entry))) {
  std::vector<unsigned char> header(m.header_bytes);
  bytes_->Read(header.data(), header.size());  // keeps the CRC running over the whole member
}

NpzReader::Stream::~Stream() = default;

void NpzReader::Stream::Read(float* dst, int64_t n) {
  PG_CHECK(n >= 0 && n <= remaining(), "npz '" << npz_.path() << "': member '" << member_.name << "': read of " << n
                                               << " elements with " << remaining() << " left");
  const size_t es = NpyDTypeSize(member_.dtype);
  const int64_t kBlock = 1 << 20;
  for (int64_t done = 0; done < n;) {
    const int64_t k = std::min(kBlock, n - done);
    float* out = dst + done;
    if (member_.dtype == NpyDType::kF32) {
      bytes_->Read(out, static_cast<size_t>(k) * 4);  // little-endian host
    } else {
      buf_.resize(static_cast<size_t>(k) * es);
      bytes_->Read(buf_.data(), buf_.size());
      for (int64_t i = 0; i < k; ++i) {
        const uint16_t w = static_cast<uint16_t>(buf_[2 * i] | (buf_[2 * i + 1] << 8));
        out[i] = member_.dtype == NpyDType::kF16 ? F16ToF32(w) : Bf16ToF32(w);
      }
    }
    done += k;
  }
  read_ += n;
}

void NpzReader::Stream::Finish() {
  PG_CHECK(remaining() == 0, "npz '" << npz_.path() << "': member '" << member_.name << "': " << remaining()
                                     << " elements left unread");
  bytes_->VerifyEnd();
}

}  // namespace pg
