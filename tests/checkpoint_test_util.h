// Helpers for the checkpoint / converter tests: a temp dir, the tiny test configs, random
// weights in big_vision layout (each dataset with a storage dtype whose values it holds
// exactly), and small file utilities. Header-only: every *_test.cc is its own executable.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "models/weight_table.h"
#include "runtime/dtype.h"

namespace pg::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pgckpt_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = mkdtemp(buf.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The tiny model of the brief: ViT image 16 patch 4 width 8 depth 2 mlp 12 heads 2; Gemma
// width 16 depth 2 mlp 24 heads 4 kv 1 head_dim 6 vocab 40; max_seq_len 64. `family`
// "paligemma2" adds the Gemma 2 post norms (and kv 2 to exercise K > 1).
inline ModelConfig TinyConfig(const std::string& family = "paligemma") {
  std::ostringstream os;
  const bool g2 = family == "paligemma2";
  os << R"({"name": "tiny-)" << family << R"(", "family": ")" << family << R"(", "max_seq_len": 64,
    "vision": {"image_size": 16, "patch_size": 4, "width": 8, "depth": 2, "mlp_dim": 12, "num_heads": 2},
    "text": {"width": 16, "depth": 2, "mlp_dim": 24, "num_heads": 4, "num_kv_heads": )"
     << (g2 ? 2 : 1) << R"(, "head_dim": 6, "vocab_size": 40)"
     << (g2 ? R"(, "sliding_window": 8, "query_pre_attn_scalar": 6)" : "") << "}}";
  return ModelConfig::FromJsonText(os.str(), "tiny test config");
}

enum class Store { kF32, kF16, kBF16 };

// One dataset's values in big_vision layout. For 2-byte stores `bits` holds the raw words
// and `values` their exact f32 widening.
struct TestTensor {
  std::vector<int64_t> shape;
  Store store = Store::kF32;
  std::vector<float> values;
  std::vector<uint16_t> bits;
};
using TestWeights = std::map<std::string, TestTensor>;  // dataset name -> tensor

// Random weights for every dataset of `c`. Datasets cycle through the stores in `stores`.
inline TestWeights RandomWeights(const ModelConfig& c, uint32_t seed, const std::vector<Store>& stores) {
  std::mt19937 rng(seed);
  TestWeights w;
  size_t k = 0;
  for (const WeightSpec& s : WeightTable(c)) {
    TestTensor t;
    t.shape = s.shape;
    t.store = stores[k++ % stores.size()];
    t.values.resize(static_cast<size_t>(s.num_elements));
    if (t.store == Store::kF32) {
      std::normal_distribution<float> nd(0.f, 1.f);
      for (float& v : t.values) v = nd(rng);
    } else {
      t.bits.resize(t.values.size());
      for (size_t i = 0; i < t.values.size(); ++i) {
        const uint32_t r = rng();
        uint16_t b;
        if (t.store == Store::kF16)  // sign | exponent 8..22 (2^-7..2^7) | 10 mantissa bits
          b = static_cast<uint16_t>(((r & 1) << 15) | ((8 + (r >> 1) % 15) << 10) | ((r >> 8) & 0x3ff));
        else  // bf16: sign | exponent 120..134 | 7 mantissa bits
          b = static_cast<uint16_t>(((r & 1) << 15) | ((120 + (r >> 1) % 15) << 7) | ((r >> 8) & 0x7f));
        t.bits[i] = b;
        t.values[i] = t.store == Store::kF16 ? F16ToF32(b) : Bf16ToF32(b);
      }
    }
    w[s.name] = std::move(t);
  }
  return w;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs a shell command; returns its exit status and fills `output` with stdout+stderr.
inline int RunCommand(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  const int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace pg::testing
