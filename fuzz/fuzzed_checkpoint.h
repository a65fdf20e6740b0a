// A structure-aware generator for checkpoint_validator_fuzz: the HDF5 library itself writes a
// well-formed file shaped like a paligemma-tp checkpoint of fuzz/micro_config.h, and the fuzz
// bytes decide every property CheckpointReader validates: the root attributes (present, type,
// value), the config JSON (fields perturbed, or free text), each dataset's presence, shape,
// element type, layout (chunked as the writer does, fuzzed chunks and filters, contiguous,
// compact, external storage), link kind (hard, soft, external), unwritten chunks, NaN/Inf
// values, extra objects, the file-format version and a truncated tail. It also returns what
// the reader must do with the file (kAccept / kReject / kEither), so a wrong verdict is a
// finding too, not only a crash.
//
// An all-zero (or empty) input gives a valid checkpoint: FuzzedDataProvider returns the
// minimum of each range when it runs out of bytes, and choice 0 is always the valid one.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz/micro_config.h"
#include "models/checkpoint_writer.h"
#include "io/hdf5_util.h"
#include "models/weight_table.h"

namespace pg::fuzz {

enum class Verdict { kAccept, kEither, kReject };  // ordered: the worst note wins

class FuzzedCheckpoint {
 public:
  // Writes the checkpoint to `path`; `ext_path` is the raw-data file of datasets given
  // external storage. Returns the verdict; why() says the reason of the first worst note.
  FuzzedCheckpoint(FuzzedDataProvider& fdp, const std::string& path, const std::string& ext_path)
      : fdp_(fdp), path_(path), ext_path_(ext_path) {}

  Verdict Write() {
    h5::SilenceErrors();
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    if (fdp_.ConsumeBool()) Must(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "libver");
    {
      h5::Handle file(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
      Must(file.get(), "H5Fcreate");
      lcpl_ = h5::Handle(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
      Must(H5Pset_create_intermediate_group(lcpl_.get(), 1), "lcpl");
      const bool bf16 = WriteRootAttributes(file.get());
      for (const WeightSpec& s : table_) WriteDataset(file.get(), s, bf16);
      WriteExtraObject(file.get());
    }
    MaybeTruncate();
    return verdict_;
  }
  const std::string& why() const { return why_; }

 private:
  void Note(Verdict v, const std::string& what) {
    if (v > verdict_) {
      verdict_ = v;
      why_ = what;
    }
  }
  [[noreturn]] static void Die(const char* what) {  // a harness bug, not a finding
    std::fprintf(stderr, "fuzzed_checkpoint: HDF5 call failed: %s (%s)\n", what, h5::ErrorText().c_str());
    std::abort();
  }
  static void Must(int64_t status, const char* what) {
    if (status < 0) Die(what);
  }

  // Root attributes "format", "dtype", "config". Returns whether datasets are stored as bf16.
  bool WriteRootAttributes(hid_t root) {
    std::string format = kCheckpointFormat;
    if (fdp_.ConsumeIntegralInRange(0, 7) == 7) format = fdp_.ConsumeRandomLengthString(24);
    if (AsRead(format) != kCheckpointFormat) Note(Verdict::kReject, "format attribute '" + format + "'");
    WriteStringAttr(root, "format", format);
    const bool bf16 = fdp_.ConsumeBool();
    WriteStringAttr(root, "dtype", bf16 ? "bf16" : "f32");
    WriteStringAttr(root, "config", ConfigText());
    return bf16;
  }

  // The config JSON: the micro config with up to 3 fields set to small integers, or free text.
  // Sets table_ to the datasets to write (the parsed config's when it is small).
  std::string ConfigText() {
    static const char* const kFields[] = {
        "/vision/image_size", "/vision/patch_size", "/vision/width",  "/vision/depth",
        "/vision/mlp_dim",    "/vision/num_heads",  "/text/width",    "/text/depth",
        "/text/mlp_dim",      "/text/num_heads",    "/text/num_kv_heads", "/text/head_dim",
        "/text/vocab_size",   "/text/sliding_window", "/text/post_norms", "/max_seq_len",
        "/tokens/bos",        "/family",            "/vision",         "/text/norm_eps"};
    const ModelConfig micro = MicroConfig();
    table_ = WeightTable(micro);
    std::string text;
    if (fdp_.ConsumeIntegralInRange(0, 15) == 15) {
      text = fdp_.ConsumeRandomLengthString(512);
    } else {
      nlohmann::json j = micro.ToJson();
      for (int n = fdp_.ConsumeIntegralInRange(0, 3); n > 0; --n) {
        const char* field = kFields[fdp_.ConsumeIntegralInRange<size_t>(0, std::size(kFields) - 1)];
        const int value = fdp_.ConsumeIntegralInRange(-1, 12);
        try {
          if (std::string(field) == "/family")
            j["family"] = value % 2 ? "paligemma2" : "paligemma" + std::to_string(value);
          else
            j[nlohmann::json::json_pointer(field)] = value;
        } catch (const nlohmann::json::exception&) {  // "/vision/width" after "/vision" = 3
        }
      }
      text = j.dump();
    }
    FollowConfig(AsRead(text));
    return text;
  }

  // Writes the datasets of `text`'s config when it parses and is small; otherwise the micro
  // table, and the reader must reject (an invalid config, or a table that does not match).
  void FollowConfig(const std::string& text) {
    try {
      const std::vector<WeightSpec> table = WeightTable(ModelConfig::FromJsonText(text, "fuzz"));
      int64_t total = 0;
      for (const WeightSpec& s : table) total += s.num_elements;
      if (total <= (int64_t{16} << 10)) {
        table_ = table;
        return;
      }
      Note(Verdict::kReject, "a config too large to write (" + std::to_string(total) + " weights)");
    } catch (const Error& e) {
      Note(Verdict::kReject, std::string("invalid config: ") + e.what());
    }
  }

  // What the reader gets back from a string attribute: the bytes before the first NUL.
  static std::string AsRead(const std::string& v) { return v.substr(0, v.find('\0')); }

  // A string attribute as the writer stores it (fixed length, null padded), or a variant.
  void WriteStringAttr(hid_t root, const char* name, const std::string& value) {
    const int kind = fdp_.ConsumeIntegralInRange(0, 11);  // 0 and 6..11: as the writer
    if (kind == 1) return Note(Verdict::kReject, std::string("no attribute ") + name);
    h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    hsize_t count = 1;
    if (kind == 2) {
      Must(H5Tset_size(type.get(), H5T_VARIABLE), "vlen");  // the reader accepts vlen strings
    } else if (kind == 3) {
      Note(Verdict::kReject, std::string("integer attribute ") + name);
      h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      h5::Handle attr(H5Acreate2(root, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      const int32_t v = 7;
      return Must(H5Awrite(attr.get(), H5T_NATIVE_INT32, &v), "int attr");
    } else {
      count = kind == 4 ? 2 : 1;
      if (kind == 4) Note(Verdict::kReject, std::string("two-string attribute ") + name);
      Must(H5Tset_size(type.get(), std::max<size_t>(value.size(), 1) + (kind == 5 ? 3 : 0)), "size");
      Must(H5Tset_strpad(type.get(), kind == 5 ? H5T_STR_NULLTERM : H5T_STR_NULLPAD), "strpad");
    }
    h5::Handle space(count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &count, nullptr), H5Sclose);
    h5::Handle attr(H5Acreate2(root, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    Must(attr.get(), "H5Acreate2");
    if (kind == 2) {
      const char* ptr = value.c_str();
      return Must(H5Awrite(attr.get(), type.get(), &ptr), "vlen write");
    }
    std::string bytes(H5Tget_size(type.get()) * count, '\0');
    std::copy(value.begin(), value.end(), bytes.begin());
    Must(H5Awrite(attr.get(), type.get(), bytes.data()), "H5Awrite");
  }

  // One table dataset, stored as the writer does (chunks of ChunkShape + Fletcher-32) or as
  // one of the variants below; `bf16` is the element type the dtype attribute promises.
  void WriteDataset(hid_t root, const WeightSpec& s, bool bf16) {
    const std::string what = "dataset '" + s.name + "'";
    std::vector<int64_t> shape = s.shape;
    h5::Handle type(bf16 ? h5::MakeBf16Type() : h5::Handle(H5Tcopy(H5T_IEEE_F32LE), H5Tclose));
    h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    std::vector<float> values(static_cast<size_t>(s.num_elements));
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.01f * static_cast<float>(static_cast<int>(i * 37 % 101) - 50);
    int partial_axis = -2;  // >= -1: write only index 0 along that axis (-1: write nothing)
    switch (fdp_.ConsumeIntegralInRange(0, 15)) {
      case 1: return Note(Verdict::kReject, "missing " + what);
      case 2: Must(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "contiguous"); break;
      case 3:
        Must(H5Pset_layout(dcpl.get(), values.size() * 4 < 32000 ? H5D_COMPACT : H5D_CONTIGUOUS), "compact");
        break;
      case 4: SetFuzzedChunks(dcpl.get(), shape); break;
      case 5:
        partial_axis = SetPartialChunks(dcpl.get(), shape);
        Note(Verdict::kReject, "unwritten chunks in " + what);
        break;
      case 6:
        Must(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), "contiguous");
        partial_axis = -1;
        Note(Verdict::kReject, "never written " + what);
        break;
      case 7: type = WrongType(bf16, what); break;
      case 8:
        shape = WrongShape(shape);
        values.resize(static_cast<size_t>(CheckedNumElements(shape, what)));
        Note(Verdict::kReject, "wrong shape of " + what);
        break;
      case 9:
        Note(Verdict::kReject, "soft link " + what);
        return Must(H5Lcreate_soft(("/" + table_[0].name).c_str(), root, s.name.c_str(), lcpl_.get(), H5P_DEFAULT), "soft");
      case 10:
        Note(Verdict::kReject, "external link " + what);
        return Must(H5Lcreate_external("pgfuzz_other.h5", "/w", root, s.name.c_str(), lcpl_.get(), H5P_DEFAULT), "ext");
      case 11:
        Must(H5Pset_external(dcpl.get(), ext_path_.c_str(), 0, values.size() * (bf16 ? 2 : 4)), "external");
        Note(Verdict::kReject, "external storage of " + what);
        break;
      case 12: {
        const float bad[] = {std::nanf(""), std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
        values[fdp_.ConsumeIntegralInRange<size_t>(0, values.size() - 1)] = bad[fdp_.ConsumeIntegralInRange(0, 2)];
        Note(Verdict::kReject, "NaN/Inf in " + what);
      }
        [[fallthrough]];
      default: {  // 0, 12..15: as CheckpointWriter stores it
        const std::vector<hsize_t> chunk = h5::Dims(ChunkShape(s, bf16 ? 2 : 4));
        Must(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "chunk");
        Must(H5Pset_fletcher32(dcpl.get()), "fletcher32");
      }
    }
    CreateAndWrite(root, s.name, type.get(), dcpl.get(), shape, values, partial_axis);
  }

  void CreateAndWrite(hid_t root, const std::string& name, hid_t type, hid_t dcpl, const std::vector<int64_t>& shape,
                      const std::vector<float>& values, int partial_axis) {
    const std::vector<hsize_t> dims = h5::Dims(shape);
    h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    h5::Handle ds(H5Dcreate2(root, name.c_str(), type, space.get(), lcpl_.get(), dcpl, H5P_DEFAULT), H5Dclose);
    Must(ds.get(), "H5Dcreate2");
    if (partial_axis == -2)
      return Must(H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "H5Dwrite");
    if (partial_axis < 0) return;
    std::vector<hsize_t> start(dims.size(), 0), count = dims;
    count[partial_axis] = 1;
    h5::Handle mem(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
    Must(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "slab");
    Must(H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, values.data()), "H5Dwrite slab");
  }

  // Chunk dims in [1, dim] per axis, with shuffle / deflate / Fletcher-32 as the bits say.
  void SetFuzzedChunks(hid_t dcpl, const std::vector<int64_t>& shape) {
    std::vector<hsize_t> chunk;
    for (int64_t d : shape) chunk.push_back(fdp_.ConsumeIntegralInRange<hsize_t>(1, static_cast<hsize_t>(d)));
    Must(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "chunk");
    const uint8_t filters = fdp_.ConsumeIntegral<uint8_t>();
    if (filters & 1) Must(H5Pset_shuffle(dcpl), "shuffle");
    if (filters & 2) Must(H5Pset_deflate(dcpl, 1), "deflate");
    if (filters & 4) Must(H5Pset_fletcher32(dcpl), "fletcher32");
  }

  // Chunks of 1 along the first axis of size >= 2 (whole elsewhere); returns that axis, or
  // -1 when every dim is 1 (then nothing is written: the only chunk is missing).
  static int SetPartialChunks(hid_t dcpl, const std::vector<int64_t>& shape) {
    std::vector<hsize_t> chunk = h5::Dims(shape);
    int axis = -1;
    for (size_t a = 0; a < shape.size() && axis < 0; ++a)
      if (shape[a] >= 2) axis = static_cast<int>(a);
    if (axis >= 0) chunk[axis] = 1;
    Must(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), "chunk");
    return axis;
  }

  // f64, int32, IEEE f16, the other of f32/bf16, or big-endian f32 (valid for an f32 file).
  h5::Handle WrongType(bool bf16, const std::string& what) {
    const int k = fdp_.ConsumeIntegralInRange(0, 4);
    if (k != 4 || bf16) Note(Verdict::kReject, "wrong element type of " + what);
    if (k == 3) return bf16 ? h5::Handle(H5Tcopy(H5T_IEEE_F32LE), H5Tclose) : h5::MakeBf16Type();
    h5::Handle t(H5Tcopy(k == 0 ? H5T_IEEE_F64LE : k == 1 ? H5T_STD_I32LE : k == 2 ? H5T_IEEE_F32LE : H5T_IEEE_F32BE),
                 H5Tclose);
    if (k == 2) {  // 1 sign, 5 exponent, 10 mantissa bits
      Must(H5Tset_fields(t.get(), 15, 10, 5, 0, 10), "f16 fields");
      Must(H5Tset_precision(t.get(), 16), "f16 precision");
      Must(H5Tset_size(t.get(), 2), "f16 size");
      Must(H5Tset_ebias(t.get(), 15), "f16 bias");
    }
    return t;
  }

  // One dim grown by 1..3, or an extra trailing axis of 1.
  std::vector<int64_t> WrongShape(std::vector<int64_t> shape) {
    const size_t axis = fdp_.ConsumeIntegralInRange<size_t>(0, shape.size());
    if (axis == shape.size())
      shape.push_back(1);
    else
      shape[axis] += fdp_.ConsumeIntegralInRange(1, 3);
    return shape;
  }

  // Objects outside the table: another dataset, a named datatype (both must be rejected), an
  // empty group or a root attribute (harmless), a second hard link to a group (either).
  void WriteExtraObject(hid_t root) {
    switch (fdp_.ConsumeIntegralInRange(0, 7)) {
      case 1: {
        Note(Verdict::kReject, "extra dataset");
        h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
        h5::Handle type(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
        return CreateAndWrite(root, "extra/tensor", type.get(), dcpl.get(), {2}, {1.f, 2.f}, -2);
      }
      case 2: {
        Note(Verdict::kReject, "named datatype");
        h5::Handle type(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
        return Must(H5Tcommit2(root, "types/f32", type.get(), lcpl_.get(), H5P_DEFAULT, H5P_DEFAULT), "commit");
      }
      case 3: {
        h5::Handle g(H5Gcreate2(root, "empty/group", lcpl_.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
        return Must(g.get(), "group");
      }
      case 4:
        Note(Verdict::kEither, "hard link to a group");
        if (H5Lexists(root, "img", H5P_DEFAULT) > 0)
          Must(H5Lcreate_hard(root, "img", root, "img_alias", H5P_DEFAULT, H5P_DEFAULT), "hard link");
        return;
      case 5: {
        h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
        h5::Handle attr(H5Acreate2(root, "note", H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
        const int32_t v = 1;
        return Must(H5Awrite(attr.get(), H5T_NATIVE_INT32, &v), "note attr");
      }
      default: return;
    }
  }

  // Sometimes cuts 1..4096 bytes off the end (an interrupted copy): must be rejected.
  void MaybeTruncate() {
    if (fdp_.ConsumeIntegralInRange(0, 15) != 15) return;
    const off_t cut = fdp_.ConsumeIntegralInRange<off_t>(1, 4096);
    FILE* f = std::fopen(path_.c_str(), "rb");
    if (!f) Die("reopen");
    std::fseek(f, 0, SEEK_END);
    const off_t size = std::ftell(f);
    std::fclose(f);
    Must(truncate(path_.c_str(), std::max<off_t>(0, size - cut)), "truncate");
    Note(Verdict::kReject, "truncated by " + std::to_string(cut) + " bytes");
  }

  FuzzedDataProvider& fdp_;
  std::string path_, ext_path_;
  std::vector<WeightSpec> table_;
  h5::Handle lcpl_;
  Verdict verdict_ = Verdict::kAccept;
  std::string why_;
};

}  // namespace pg::fuzz
