// Test-only writers of the converter's source formats, independent of the readers:
//   - WriteNpz: a zip archive (stored or deflated members, optional zip64 records) of .npy
//     arrays (format 1.0/2.0/3.0 headers), as numpy.savez / savez_compressed write them;
//   - WriteSafetensors: one safetensors file (F32 / F16 / BF16 tensors).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/checkpoint_test_util.h"

namespace pg::testing {

inline void PutU16(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
inline void PutU32(std::string& s, uint32_t v) {
  PutU16(s, v & 0xffff);
  PutU16(s, v >> 16);
}
inline void PutU64(std::string& s, uint64_t v) {
  PutU32(s, static_cast<uint32_t>(v));
  PutU32(s, static_cast<uint32_t>(v >> 32));
}

// The bytes of one .npy file. `descr` e.g. "<f4"; `data` the raw little-endian elements.
inline std::string NpyBytes(const std::string& descr, const std::vector<int64_t>& shape, const std::string& data,
                            int version = 1, const std::string& fortran = "False") {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  if (shape.size() == 1) dict.pop_back();  // "(5,)"
  dict += "), }";
  const size_t prelude = version == 1 ? 10 : 12;
  size_t total = prelude + dict.size() + 1;
  const size_t padded = (total + 63) / 64 * 64;
  dict += std::string(padded - total, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(version));
  out.push_back(0);
  if (version == 1)
    PutU16(out, static_cast<uint32_t>(dict.size()));
  else
    PutU32(out, static_cast<uint32_t>(dict.size()));
  return out + dict + data;
}

inline std::string TensorBytes(const TestTensor& t) {
  if (t.store == Store::kF32) return std::string(reinterpret_cast<const char*>(t.values.data()), t.values.size() * 4);
  return std::string(reinterpret_cast<const char*>(t.bits.data()), t.bits.size() * 2);
}

struct ZipMember {
  std::string name;  // e.g. "params/img/embedding/kernel.npy"
  std::string data;  // uncompressed bytes
  bool deflate = false;
};

inline std::string RawDeflate(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflate");
  std::string out(deflateBound(&zs, in.size()) + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A zip archive of `members`. With zip64, every size/offset field is 0xffffffff with the
// real values in zip64 extra fields, plus zip64 end-of-directory records (what Python's
// zipfile writes for > 4 GiB archives, forced here on a small one).
inline std::string ZipBytes(const std::vector<ZipMember>& members, bool zip64) {
  std::string out, cd;
  for (const ZipMember& m : members) {
    const std::string body = m.deflate ? RawDeflate(m.data) : m.data;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(m.data.data()),
                                                     static_cast<uInt>(m.data.size())));
    const uint64_t offset = out.size();
    std::string extra;
    if (zip64) {
      PutU16(extra, 1);
      PutU16(extra, 24);
      PutU64(extra, m.data.size());
      PutU64(extra, body.size());
      PutU64(extra, offset);
    }
    auto header = [&](std::string& s, bool central) {
      PutU32(s, central ? 0x02014b50 : 0x04034b50);
      if (central) PutU16(s, 45);
      PutU16(s, zip64 ? 45 : 20);
      PutU16(s, 0);                          // flags
      PutU16(s, m.deflate ? 8 : 0);          // method
      PutU32(s, 0);                          // time, date
      PutU32(s, crc);
      PutU32(s, zip64 ? 0xffffffffu : static_cast<uint32_t>(body.size()));
      PutU32(s, zip64 ? 0xffffffffu : static_cast<uint32_t>(m.data.size()));
      PutU16(s, static_cast<uint32_t>(m.name.size()));
      PutU16(s, static_cast<uint32_t>(central ? extra.size() : (zip64 ? 20 : 0)));
      if (central) {
        PutU16(s, 0);  // comment
        PutU16(s, 0);  // disk
        PutU16(s, 0);  // internal attributes
        PutU32(s, 0);  // external attributes
        PutU32(s, zip64 ? 0xffffffffu : static_cast<uint32_t>(offset));
      }
      s += m.name;
      if (central) {
        s += extra;
      } else if (zip64) {  // local zip64 extra: sizes only
        PutU16(s, 1);
        PutU16(s, 16);
        PutU64(s, m.data.size());
        PutU64(s, body.size());
      }
    };
    header(out, false);
    out += body;
    header(cd, true);
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  if (zip64) {
    const uint64_t z_offset = out.size();
    PutU32(out, 0x06064b50);
    PutU64(out, 44);
    PutU16(out, 45);
    PutU16(out, 45);
    PutU32(out, 0);
    PutU32(out, 0);
    PutU64(out, members.size());
    PutU64(out, members.size());
    PutU64(out, cd.size());
    PutU64(out, cd_offset);
    PutU32(out, 0x07064b50);
    PutU32(out, 0);
    PutU64(out, z_offset);
    PutU32(out, 1);
  }
  PutU32(out, 0x06054b50);
  PutU16(out, 0);
  PutU16(out, 0);
  PutU16(out, zip64 ? 0xffff : static_cast<uint32_t>(members.size()));
  PutU16(out, zip64 ? 0xffff : static_cast<uint32_t>(members.size()));
  PutU32(out, zip64 ? 0xffffffffu : static_cast<uint32_t>(cd.size()));
  PutU32(out, zip64 ? 0xffffffffu : static_cast<uint32_t>(cd_offset));
  PutU16(out, 0);
  return out;
}

// Every dataset of `w` as "params/<name>.npy"; members alternate stored/deflated (unless
// !deflate) and npy format versions 1/2/3.
inline std::string NpzOfWeights(const TestWeights& w, bool zip64, bool deflate = true) {
  std::vector<ZipMember> members;
  int k = 0;
  for (const auto& [name, t] : w) {
    const std::string descr = t.store == Store::kF32 ? "<f4" : t.store == Store::kF16 ? "<f2" : "|V2";
    members.push_back({"params/" + name + ".npy", NpyBytes(descr, t.shape, TensorBytes(t), 1 + k % 3), deflate && k % 2 == 1});
    ++k;
  }
  return ZipBytes(members, zip64);
}

struct StTensor {
  std::string name;
  std::string dtype;  // F32 / F16 / BF16
  std::vector<int64_t> shape;
  std::string data;
};

inline std::string SafetensorsBytes(const std::vector<StTensor>& tensors) {
  nlohmann::json h = nlohmann::json::object();
  h["__metadata__"] = {{"format", "pt"}};
  uint64_t off = 0;
  std::string data;
  for (const StTensor& t : tensors) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.data.size()}}};
    off += t.data.size();
    data += t.data;
  }
  std::string header = h.dump();
  header += std::string((8 - header.size() % 8) % 8, ' ');
  std::string out;
  PutU64(out, header.size());
  return out + header + data;
}

}  // namespace pg::testing
