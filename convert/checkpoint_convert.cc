#include "convert/checkpoint_convert.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/npz_reader.h"
#include "io/safetensors_reader.h"
#include "models/checkpoint_reader.h"
#include "models/checkpoint_writer.h"
#include "models/weight_table.h"
#include "runtime/check.h"

namespace pg {
namespace {

constexpr int64_t kPieceElements = 16 << 20;  // ~64 MiB of f32 per streamed piece

std::string Joined(const std::vector<std::string>& v, size_t max_items = 10) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size() && i < max_items; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > max_items) os << ", ... (" << v.size() << " in all)";
  return os.str();
}

void Log(const ConvertOptions& opt, const std::string& line) {
  if (opt.log) opt.log(line);
}

// Writes with `write(writer)` into OUTPUT.tmp, validates it, renames it to OUTPUT. The
// temporary file is removed on any failure.
template <typename WriteFn>
void WriteAtomically(const ModelConfig& config, DType dtype, const ConvertOptions& opt, WriteFn write) {
  PG_CHECK(!opt.output.empty(), "convert: no output path given");
  const std::string tmp = opt.output + ".tmp";
  std::remove(tmp.c_str());
  try {
    {
      CheckpointWriter w(tmp, config, dtype);
      write(w);
      w.Finish();
    }
    CheckpointReader check(tmp);  // the same validation every loader runs
    PG_CHECK(std::rename(tmp.c_str(), opt.output.c_str()) == 0,
             "convert: cannot rename '" << tmp << "' to '" << opt.output << "' (" << std::strerror(errno) << ")");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

// Streams a whole dataset from `read(dst, first_row, rows)` in pieces of whole rows along
// axis 0, each a whole number of the dataset's chunks.
template <typename ReadFn>
void StreamRows(CheckpointWriter& w, const WeightSpec& spec, ReadFn read) {
  const int64_t rows = spec.shape.empty() ? 1 : spec.shape[0];
  const int64_t row_elems = rows == 0 ? 0 : spec.num_elements / rows;
  const int64_t chunk_rows = spec.shape.empty() ? 1 : ChunkShape(spec, DTypeSize(w.dtype()))[0];
  int64_t per_piece = std::max<int64_t>(1, kPieceElements / std::max<int64_t>(row_elems, 1));
  per_piece = std::max(chunk_rows, per_piece / chunk_rows * chunk_rows);
  std::vector<float> buf;
  for (int64_t r = 0; r < rows; r += per_piece) {
    const int64_t k = std::min(per_piece, rows - r);
    buf.resize(static_cast<size_t>(k * row_elems));
    read(buf.data(), r, k);
    std::vector<int64_t> start(spec.shape.size(), 0), count = spec.shape;
    if (!spec.shape.empty()) {
      start[0] = r;
      count[0] = k;
    }
    w.WriteSlab(spec.name, start, count, buf.data());
  }
}

// The on-Hub name of the HF tensor that the tied output head must equal: the source of the
// table entry declaring the tie (the embedding).
std::string TiedHfSource(const ModelConfig& c) {
  for (const WeightSpec& s : WeightTable(c))
    if (!s.hf_tied.empty()) return s.hf.at(0).hub_name;
  PG_THROW("model '" << c.name << "': the weight table declares no tensor tied with '" << kHfTiedLmHead << "'");
}

std::string StripParams(const std::string& name) {
  return name.rfind("params/", 0) == 0 ? name.substr(7) : name;
}

}  // namespace

ConvertResult ConvertNpz(const std::string& npz_path, const ModelConfig& config, const ConvertOptions& opt) {
  NpzReader npz(npz_path);
  const std::vector<WeightSpec> table = WeightTable(config);
  std::map<std::string, const NpzMember*> by_name;
  std::vector<std::string> unknown, missing, misshaped, dup;
  std::set<std::string> known;
  for (const WeightSpec& s : table) known.insert(s.name);
  for (const NpzMember& m : npz.members()) {
    const std::string name = StripParams(m.name);
    if (!known.count(name)) {
      unknown.push_back("'" + m.name + "'");
      continue;
    }
    if (by_name.count(name)) dup.push_back("'" + m.name + "'");
    by_name[name] = &m;
  }
  const std::string where = "npz '" + npz_path + "'";
  PG_CHECK(unknown.empty(), where << ": member(s) not in model '" << config.name << "': " << Joined(unknown));
  PG_CHECK(dup.empty(), where << ": member(s) present twice (with and without 'params/'): " << Joined(dup));
  bool all_bf16 = true;
  for (const WeightSpec& s : table) {
    auto it = by_name.find(s.name);
    if (it == by_name.end()) {
      missing.push_back("'params/" + s.name + "'");
      continue;
    }
    if (it->second->shape != s.shape)
      misshaped.push_back("'" + it->second->name + "' has shape " + ShapeStr(it->second->shape) + "; expected " +
                          ShapeStr(s.shape));
    all_bf16 = all_bf16 && it->second->dtype == NpyDType::kBF16;
  }
  PG_CHECK(missing.empty(), where << ": missing member(s) for model '" << config.name << "': " << Joined(missing));
  PG_CHECK(misshaped.empty(), where << ": member(s) do not match model '" << config.name
                                    << "': " << Joined(misshaped, 5));
  ConvertResult res{config, opt.dtype.value_or(all_bf16 ? DType::kBF16 : DType::kF32),
                    static_cast<int64_t>(npz.members().size())};
  WriteAtomically(config, res.dtype, opt, [&](CheckpointWriter& w) {
    for (const WeightSpec& s : table) {
      const NpzMember& m = *by_name.at(s.name);
      Log(opt, "  " + s.name + " " + ShapeStr(s.shape) + " <- " + NpyDTypeName(m.dtype));
      auto stream = npz.Open(m);
      const int64_t row_elems = s.shape.empty() || s.shape[0] == 0 ? 0 : s.num_elements / s.shape[0];
      StreamRows(w, s, [&](float* dst, int64_t, int64_t rows) { stream->Read(dst, rows * row_elems); });
      stream->Finish();
    }
  });
  return res;
}

namespace {

std::string DirOf(const std::string& input) {
  struct stat st;
  PG_CHECK(stat(input.c_str(), &st) == 0, "HF checkpoint '" << input << "': no such file or directory");
  if (S_ISDIR(st.st_mode)) return input;
  const size_t s = input.rfind('/');
  return s == std::string::npos ? "." : input.substr(0, s);
}

// Lists the fields where two configs differ ("text.num_kv_heads: 4 vs 1").
std::vector<std::string> ConfigDiff(const ModelConfig& a, const ModelConfig& b) {
  const nlohmann::json fa = a.ToJson().flatten(), fb = b.ToJson().flatten();
  std::vector<std::string> out;
  for (auto it = fa.begin(); it != fa.end(); ++it)
    if (!fb.contains(it.key()) || fb[it.key()] != it.value())
      out.push_back(it.key().substr(1) + ": " + it.value().dump() + " vs " + (fb.contains(it.key()) ? fb[it.key()].dump() : "-"));
  return out;
}

}  // namespace

ConvertResult ConvertHf(const std::string& input, const ModelConfig* expected, const HfImportOptions& hf_opt,
                        const ConvertOptions& opt) {
  const std::string dir = DirOf(input);
  HfImportOptions o = hf_opt;
  if (o.name.empty()) {  // default: the model directory's name
    const size_t s = dir.find_last_not_of('/');
    const std::string trimmed = s == std::string::npos ? dir : dir.substr(0, s + 1);
    o.name = trimmed.substr(trimmed.rfind('/') == std::string::npos ? 0 : trimmed.rfind('/') + 1);
  }
  if (expected) {
    o.name = expected->name;
    o.max_seq_len = expected->max_seq_len;
    o.vocab_size = expected->text.vocab_size;  // HF rows beyond it (padding) are dropped
  }
  ModelConfig c = ReadHfConfig(dir + "/config.json", o);
  if (expected) {
    const std::vector<std::string> diff = ConfigDiff(c, *expected);
    PG_CHECK(diff.empty(), "HF checkpoint '" << input << "': config.json does not match model '" << expected->name
                                             << "' (HF vs --config): " << Joined(diff));
  }
  SafetensorsReader st(input);
  const std::map<std::string, HfTensorTarget> map = HfTensorMap(c);
  const std::string where = "HF checkpoint '" + input + "'";
  std::map<std::string, const SafetensorsTensor*> seen;  // canonical name -> tensor
  std::vector<std::string> unknown, bad_shape, dup, missing;
  const SafetensorsTensor* lm_head = nullptr;
  bool all_bf16 = true;
  for (const SafetensorsTensor& t : st.tensors()) {
    const std::string canon = CanonicalHfName(t.name);
    if (seen.count(canon)) dup.push_back("'" + t.name + "' and '" + seen[canon]->name + "'");
    seen[canon] = &t;
    if (IsTiedLmHead(canon)) {
      lm_head = &t;
      continue;
    }
    auto it = map.find(canon);
    if (it == map.end()) {
      unknown.push_back("'" + t.name + "'");
      continue;
    }
    const HfTensorTarget& g = it->second;
    const bool ok = g.extra_rows_ok ? t.shape.size() == 2 && t.shape[1] == g.hf_shape[1] && t.shape[0] >= g.hf_shape[0]
                                    : t.shape == g.hf_shape;
    if (!ok) bad_shape.push_back("'" + t.name + "' has shape " + ShapeStr(t.shape) + "; expected " + ShapeStr(g.hf_shape));
    all_bf16 = all_bf16 && t.dtype == "BF16";
  }
  for (const auto& [name, g] : map)
    if (!seen.count(name)) missing.push_back("'" + name + "'");
  PG_CHECK(dup.empty(), where << ": tensors stored under both old and new names: " << Joined(dup));
  PG_CHECK(unknown.empty(), where << ": tensor(s) not part of model '" << c.name << "' (vision depth " << c.vision.depth
                                  << ", text depth " << c.text.depth << "): " << Joined(unknown));
  PG_CHECK(missing.empty(), where << ": missing tensor(s): " << Joined(missing));
  PG_CHECK(bad_shape.empty(), where << ": tensor(s) do not match config.json: " << Joined(bad_shape, 5));
  const std::string tied_source = TiedHfSource(c);
  if (lm_head) {
    const HfTensorTarget& emb = map.at(tied_source);
    PG_CHECK(lm_head->shape.size() == 2 && lm_head->shape[1] == emb.hf_shape[1] && lm_head->shape[0] >= emb.hf_shape[0],
             where << ": lm_head '" << lm_head->name << "' has shape " << ShapeStr(lm_head->shape) << "; expected at least "
                   << ShapeStr(emb.hf_shape) << " (tied with the embedding)");
  }

  ConvertResult res{c, opt.dtype.value_or(all_bf16 ? DType::kBF16 : DType::kF32),
                    static_cast<int64_t>(st.tensors().size())};
  WriteAtomically(c, res.dtype, opt, [&](CheckpointWriter& w) {
    std::vector<float> src, dst;
    for (const SafetensorsTensor& t : st.tensors()) {
      const std::string canon = CanonicalHfName(t.name);
      if (IsTiedLmHead(canon)) continue;
      const HfTensorTarget& g = map.at(canon);
      Log(opt, "  " + t.name + " " + ShapeStr(t.shape) + " " + t.dtype + " -> " + g.dataset);
      if (g.extra_rows_ok) {  // the embedding: first vocab rows, streamed in row blocks
        const WeightSpec& spec = FindWeight(w.table(), g.dataset);
        const int64_t d = spec.shape[1];
        StreamRows(w, spec, [&](float* out, int64_t r, int64_t k) { st.ReadRangeAsF32(t.name, r * d, k * d, out); });
        continue;
      }
      src = st.ReadAsF32(t.name);
      dst.resize(src.size());
      HfToBigVision(g, src.data(), dst.data());
      w.WriteSlab(g.dataset, g.start, g.count, dst.data());
    }
    if (!lm_head) return;
    // Tied weights: the output head must equal the embedding on the vocabulary rows.
    const int64_t d = lm_head->shape[1], rows = c.text.vocab_size, block = std::max<int64_t>(1, kPieceElements / d);
    const SafetensorsTensor* emb = seen.at(tied_source);
    for (int64_t r = 0; r < rows; r += block) {
      const int64_t k = std::min(block, rows - r);
      src.resize(static_cast<size_t>(k * d));
      dst.resize(src.size());
      st.ReadRangeAsF32(lm_head->name, r * d, k * d, src.data());
      st.ReadRangeAsF32(emb->name, r * d, k * d, dst.data());
      PG_CHECK(std::memcmp(src.data(), dst.data(), src.size() * sizeof(float)) == 0,
               where << ": '" << lm_head->name << "' differs from '" << emb->name << "' in rows [" << r << ", "
                     << r + k << "); untied output heads are not supported");
    }
  });
  return res;
}

}  // namespace pg
