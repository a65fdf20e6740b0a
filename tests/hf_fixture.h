// Shared by the HF parity tests (single process and under mpirun): converts a fixture's HF
// safetensors with `paligemma convert`, runs the engine on the fixture's inputs and compares
// with the logits and greedy tokens Hugging Face transformers produced
// (tests/golden/make_fixtures.py, layout in tests/golden/README.md).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "convert/checkpoint_convert.h"
#include "io/h5_arrays.h"
#include "engine/generator.h"
#include "runtime/check.h"

namespace pg::testing {

inline std::string FixtureDir(const std::string& name) {
  return std::string(PG_SOURCE_DIR) + "/tests/fixtures/hf/" + name;
}

// Converts <fixture>/model.safetensors to an HDF5 checkpoint at `out_path` with the library
// converter (`paligemma convert --from hf` runs the same code; the mpirun tests use the CLI).
inline std::string ConvertFixture(const std::string& name, const std::string& out_path) {
  ConvertOptions opt;
  opt.output = out_path;
  HfImportOptions hf;
  hf.name = name;
  ConvertHf(FixtureDir(name), nullptr, hf, opt);
  return out_path;
}

struct HfReference {
  int batch = 0, steps = 0, vocab = 0, np = 0, d = 0;
  std::vector<std::vector<int>> text_ids;   // [batch][len]
  std::vector<float> pixels;                // [batch, S, S, 3]
  std::vector<std::vector<int>> tokens;     // [batch][gen_len]
  std::vector<float> logits;                // [batch, steps, vocab]
  std::vector<float> image_features;        // [batch, Np, D]
  double max_abs_logit = 0, min_margin = 0;

  static HfReference Load(const std::string& name) {
    H5ArrayFile f(FixtureDir(name) + "/reference.h5", "r");
    HfReference r;
    std::vector<int64_t> s;
    std::vector<int32_t> ids = f.ReadI32("text_ids", &s);
    std::vector<int32_t> len = f.ReadI32("text_len");
    r.batch = static_cast<int>(s[0]);
    for (int b = 0; b < r.batch; ++b) r.text_ids.emplace_back(ids.begin() + b * s[1], ids.begin() + b * s[1] + len[b]);
    r.pixels = f.ReadF32("pixel_values");
    std::vector<int32_t> gen = f.ReadI32("gen_tokens", &s);
    std::vector<int32_t> gen_len = f.ReadI32("gen_len");
    r.steps = static_cast<int>(s[1]);
    for (int b = 0; b < r.batch; ++b)
      r.tokens.emplace_back(gen.begin() + b * r.steps, gen.begin() + b * r.steps + gen_len[b]);
    r.logits = f.ReadF32("logits", &s);
    r.vocab = static_cast<int>(s[2]);
    r.image_features = f.ReadF32("image_features", &s);
    r.np = static_cast<int>(s[1]);
    r.d = static_cast<int>(s[2]);
    r.max_abs_logit = f.ReadScalarAttr("max_abs_logit");
    r.min_margin = f.ReadScalarAttr("min_top1_margin");
    return r;
  }
};

// The fixture's prompts as engine requests (seq_id = example index) over image tokens
// [batch, Np, D] (PaliGemma::EncodeImages of ref.pixels).
inline std::vector<GenerationInput> FixtureRequests(const HfReference& ref, const std::vector<float>& image_tokens) {
  std::vector<GenerationInput> batch(ref.batch);
  const size_t per = static_cast<size_t>(ref.np) * ref.d;
  for (int b = 0; b < ref.batch; ++b) {
    batch[b].image_tokens.assign(image_tokens.begin() + per * b, image_tokens.begin() + per * (b + 1));
    batch[b].text_ids = ref.text_ids[b];
    batch[b].seq_id = b;
  }
  return batch;
}

struct Comparison {
  double max_abs_err = 0, scale = 0;
  std::string worst;  // where the worst element is
  int token_mismatches = 0;
  std::string token_report;
};

// Compares engine outputs (greedy, keep_logits) against the reference.
inline Comparison CompareWithReference(const HfReference& ref, const std::vector<GenerationOutput>& outs) {
  Comparison c;
  c.scale = ref.max_abs_logit;
  for (int b = 0; b < ref.batch; ++b) {
    if (outs[b].tokens != ref.tokens[b]) {
      ++c.token_mismatches;
      std::ostringstream os;
      os << "seq " << b << ": engine [";
      for (int t : outs[b].tokens) os << t << " ";
      os << "] HF [";
      for (int t : ref.tokens[b]) os << t << " ";
      os << "]; ";
      c.token_report += os.str();
    }
    const size_t steps = std::min(outs[b].logits.size(), ref.tokens[b].size());
    for (size_t s = 0; s < steps; ++s)
      for (int v = 0; v < ref.vocab; ++v) {
        const double e = outs[b].logits[s][v];
        const double h = ref.logits[(static_cast<size_t>(b) * ref.steps + s) * ref.vocab + v];
        if (std::fabs(e - h) > c.max_abs_err) {
          c.max_abs_err = std::fabs(e - h);
          std::ostringstream os;
          os << "seq " << b << " step " << s << " token " << v << ": engine " << e << " HF " << h;
          c.worst = os.str();
        }
      }
  }
  return c;
}

}  // namespace pg::testing
