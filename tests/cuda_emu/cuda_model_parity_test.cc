// Whole-model CUDA-vs-CPU parity on the HF fixtures (tests/fixtures/hf/*): the CUDA backend
// (here under the CPU emulation of tests/cuda_emu/, on a GPU the real one: the test is plain
// Backend code) against CpuBackend on the SAME weights, rounded to bf16 exactly where CUDA
// stores them (every 2-D UploadWeight), so the comparison isolates what CUDA does differently:
// activations rounded to bf16 at each GEMM input, fp32 block sums, the kernels themselves.
//
// Three CPU runs per case: fp32 (the fixture's weights), bf16 weights only, and bf16 weights with
// every GEMM input x rounded to bf16 as CudaBackend::Gemm does, every activation (the tensors the
// model allocates with AllocActivation, bf16 on CUDA) rounded to bf16 after each op that writes
// it (a bias added in a GEMM epilogue with a bf16 output rounded to bf16 first, as cuBLASLt
// reads it in the output's type), k and v rounded to bf16 where they
// enter the KV cache (CUDA's cache is bf16) and, in prefill attention (several
// queries per sequence), q, k, v and the probabilities rounded to bf16 as its tensor-core GEMMs
// read them (a host reference of that path) ("same roundings"). The first two
// are reported (what bf16 storage does to these random tiny models: 3-10% of max |logit|); the
// gate compares CUDA with the third, where only fp32 arithmetic differs (sum order, libm vs
// CUDA math, the CPU's FastTanh), so a difference can only flip the bf16 rounding of an
// activation element now and then (a 2^-8 relative change of that element), which these random
// tiny models amplify through the later roundings:
//  - image tokens: max |cuda - cpu| <= 2^-6 max |cpu| (measured under the emulator with bf16
//    activations: 9e-8, 0.0030, 4e-8, 0.0030);
//  - logits: max |cuda - cpu| <= 2^-4 max |cpu| (measured: 0, 0.031, 1e-6, 0.032 for gemma1_mqa,
//    gemma1_batch, gemma2, gemma1_batch with 2 slots; with f32 activations it was 0, 0.0069,
//    0.0025, 0.0069 under a 2^-6 gate: each bf16 activation is one more rounding a flip can
//    start from. A sliding-window off-by-one gives 0.82, see tests/cuda_emu/tests.cmake);
//  - greedy tokens identical at every step, except at a step where the CPU's top-1 margin is
//    below max(2 x the measured logit error, 2^-8 max |logit|): there bf16 arithmetic does not
//    decide the token; the sequence is not compared after that step (printed), and at least
//    half of all steps must have been compared.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "hf_fixture.h"
#include "models/checkpoint_reader.h"
#include "runtime/cuda_backend.h"
#include "runtime/dtype.h"

namespace pg {
namespace {

namespace fs = std::filesystem;

// CpuBackend whose weight matrices are rounded to bf16 as CudaBackend::UploadWeight stores them,
// and (round_gemm_inputs) whose GEMMs round their f32 input x to bf16 first, as CudaBackend::Gemm
// does, and whose activations (AllocActivation: f32 here, bf16 on CUDA) are rounded to bf16
// after every op that writes them: then the two backends apply the same roundings and differ
// only in fp32 arithmetic.
class Bf16WeightCpu final : public Backend {
 public:
  explicit Bf16WeightCpu(bool round_gemm_inputs) : cpu_(MakeBackend("cpu")), round_x_(round_gemm_inputs) {}
  std::string name() const override { return cpu_->name(); }
  Tensor Alloc(const std::string& n, std::vector<int64_t> s) override { return cpu_->Alloc(n, std::move(s)); }
  Tensor AllocActivation(const std::string& n, std::vector<int64_t> s) override {
    Tensor t = cpu_->Alloc(n, std::move(s));
    if (round_x_) acts_.push_back(t);  // kept alive: its range stays an activation
    return t;
  }
  Tensor Upload(const std::string& n, std::vector<int64_t> s, const float* h) override {
    return cpu_->Upload(n, std::move(s), h);
  }
  Tensor UploadWeight(const std::string& n, std::vector<int64_t> s, const float* h) override {
    if (s.size() != 2) return cpu_->UploadWeight(n, std::move(s), h);
    int64_t count = s[0] * s[1];
    std::vector<float> r(h, h + count);
    for (float& x : r) x = RoundToBf16(x);
    return cpu_->UploadWeight(n, std::move(s), r.data());
  }
  void Download(const Tensor& t, float* h) override { cpu_->Download(t, h); }
  void CopyFromHost(const float* h, Tensor& d) override {
    cpu_->CopyFromHost(h, d);
    RoundIfActivation(d);
  }
  void Zero(Tensor& t) override { cpu_->Zero(t); }
  void CopyRows(const Tensor& s, int64_t sr, Tensor& d, int64_t dr, int64_t r) override {
    cpu_->CopyRows(s, sr, d, dr, r);
    RoundIfActivation(d);
  }
  void MatMul(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& o) override {
    if (!round_x_) return cpu_->MatMul(x, w, b, o);
    if (b && IsActivation(o)) {  // cuBLASLt's bias in the output's type: bf16
      const Tensor rb = Rounded(*b);
      cpu_->MatMul(Rounded(x), w, &rb, o);
    } else {
      cpu_->MatMul(Rounded(x), w, b, o);
    }
    RoundIfActivation(o);
  }
  // One epilogue on CUDA: gelu(x w + b) rounded once (not MatMul, then GeluTanh, each rounding).
  void MatMulGelu(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& o) override {
    if (!round_x_) return cpu_->MatMulGelu(x, w, b, o);
    cpu_->MatMulGelu(Rounded(x), w, IsActivation(o) ? Rounded(b) : b, o);
    RoundIfActivation(o);
  }
  void MatMulTransB(const Tensor& x, const Tensor& w, Tensor& o) override {
    if (!round_x_) return cpu_->MatMulTransB(x, w, o);
    cpu_->MatMulTransB(Rounded(x), w, o);
    RoundIfActivation(o);
  }
  void Add(Tensor& x, const Tensor& y) override { Then(x, [&] { cpu_->Add(x, y); }); }
  void AddRowBroadcast(Tensor& x, const Tensor& r) override { Then(x, [&] { cpu_->AddRowBroadcast(x, r); }); }
  void AddBatchBroadcast(Tensor& x, const Tensor& t) override { Then(x, [&] { cpu_->AddBatchBroadcast(x, t); }); }
  void Scale(Tensor& x, float s) override { Then(x, [&] { cpu_->Scale(x, s); }); }
  void LayerNorm(const Tensor& x, const Tensor& s, const Tensor& b, float e, Tensor& o) override {
    Then(o, [&] { cpu_->LayerNorm(x, s, b, e, o); });
  }
  void RmsNorm(const Tensor& x, const Tensor& s, float e, Tensor& o) override {
    Then(o, [&] { cpu_->RmsNorm(x, s, e, o); });
  }
  void GeluTanh(Tensor& x) override { Then(x, [&] { cpu_->GeluTanh(x); }); }
  void GeGlu(const Tensor& g, Tensor& o) override { Then(o, [&] { cpu_->GeGlu(g, o); }); }
  void SoftCap(Tensor& x, float c) override { Then(x, [&] { cpu_->SoftCap(x, c); }); }
  void Embed(const Tensor& t, const std::vector<int>& ids, int64_t off, float s, Tensor& o) override {
    Then(o, [&] { cpu_->Embed(t, ids, off, s, o); });
  }
  void SplitQkvRope(const Tensor& qkv, const std::vector<int>& p, float b, Tensor& q, Tensor& k, Tensor& v) override {
    cpu_->SplitQkvRope(qkv, p, b, q, k, v);
    for (Tensor* t : {&q, &k, &v}) RoundIfActivation(*t);
  }
  // The CUDA KV cache is bf16 (AllocKvCache): the same roundings store the rounded k and v.
  void WriteCache(const Tensor& f, const AttentionMask& m, const std::vector<int>& c, Tensor& cache) override {
    if (!round_x_) return cpu_->WriteCache(f, m, c, cache);
    cpu_->WriteCache(Rounded(f), m, c, cache);
  }
  void Attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m, const AttentionParams& p,
                 Tensor& o) override {
    // Several queries per sequence: CudaBackend's prefill path (bf16 GEMM operands).
    if (!round_x_ || q.dim(1) == 1) {
      cpu_->Attention(q, k, v, m, p, o);
    } else {
      PrefillAttentionBf16(q, k, v, m, p, o);
    }
    RoundIfActivation(o);
  }
  void TopK(const Tensor& l, int k, float* v, int* i) override { cpu_->TopK(l, k, v, i); }
  void RowLogSumExp(const Tensor& l, float* lse) override { cpu_->RowLogSumExp(l, lse); }

 private:
  Tensor Rounded(const Tensor& x) {
    std::vector<float> h(x.numel());
    cpu_->Download(x, h.data());
    for (float& v : h) v = RoundToBf16(v);
    return cpu_->Upload(x.name + ".bf16", x.shape, h.data());
  }
  // CudaBackend's prefill attention with its roundings: q, k, v rounded to bf16, fp32 dot
  // products, the masked, capped softmax in fp32, the probabilities rounded to bf16, fp32 sums.
  // q: [B, T, H, hd], k/v: [rows, S, KH, hd] -> o: [B, T, H, hd].
  void PrefillAttentionBf16(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& m,
                            const AttentionParams& p, Tensor& o) {
    const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), hd = q.dim(3), S = k.dim(1), KH = k.dim(2);
    auto host = [&](const Tensor& t) {
      std::vector<float> h(t.numel());
      cpu_->Download(t, h.data());
      for (float& x : h) x = RoundToBf16(x);
      return h;
    };
    const std::vector<float> hq = host(q), hk = host(k), hv = host(v);
    std::vector<float> out(q.numel(), 0.f), z(S);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = m.slot.empty() ? b : m.slot[b];
      const int n = m.kv_len[b], prefix = m.prefix_len[b];
      for (int64_t t = 0; t < T; ++t) {
        const int qs = m.q_start[b] + static_cast<int>(t);
        if (qs >= n) continue;  // padding query: zero
        for (int64_t h = 0; h < H; ++h) {
          const float* qv = &hq[((b * T + t) * H + h) * hd];
          const int64_t kh = h / (H / KH);
          float M = -INFINITY, L = 0.f;
          for (int s = 0; s < n; ++s) {
            const bool visible = (s < prefix && qs < prefix) || (s <= qs && (m.window == 0 || qs - s < m.window));
            float dot = 0.f;
            for (int64_t d = 0; d < hd; ++d) dot += qv[d] * hk[((row * S + s) * KH + kh) * hd + d];
            float l = dot * p.scale;
            if (p.softcap > 0.f) l = std::tanh(l / p.softcap) * p.softcap;
            z[s] = visible ? l : -INFINITY;
            M = std::max(M, z[s]);
          }
          for (int s = 0; s < n; ++s) L += z[s] == -INFINITY ? 0.f : std::exp(z[s] - M);
          float* dst = &out[((b * T + t) * H + h) * hd];
          for (int s = 0; s < n; ++s) {
            const float pr = RoundToBf16(z[s] == -INFINITY ? 0.f : std::exp(z[s] - M) * (1.f / L));
            for (int64_t d = 0; d < hd; ++d) dst[d] += pr * hv[((row * S + s) * KH + kh) * hd + d];
          }
        }
      }
    }
    cpu_->CopyFromHost(out.data(), o);
  }
  // t lies inside a tensor from AllocActivation (a Prefix / RowSlice of one shares its memory).
  bool IsActivation(const Tensor& t) const {
    const char* p = static_cast<const char*>(t.data);
    for (const Tensor& a : acts_) {
      const char* base = static_cast<const char*>(a.data);
      if (p >= base && p < base + a.bytes()) return true;
    }
    return false;
  }
  // CUDA stores an activation as bf16: the CPU's f32 value rounded to nearest even.
  void RoundIfActivation(Tensor& t) {
    if (!round_x_ || !IsActivation(t)) return;
    float* v = static_cast<float*>(t.data);
    for (int64_t i = 0; i < t.numel(); ++i) v[i] = RoundToBf16(v[i]);
  }
  template <class F>
  void Then(Tensor& out, F op) {
    op();
    RoundIfActivation(out);
  }
  std::unique_ptr<Backend> cpu_;
  bool round_x_;
  std::vector<Tensor> acts_;
};

struct RunResult {
  std::vector<float> image_tokens;
  std::vector<GenerationOutput> outs;
};

RunResult RunModel(const CheckpointReader& ckpt, Backend& be, const testing::HfReference& ref, int max_batch) {
  PaliGemma model(ckpt, be, TpGroup{}, PaliGemmaLoadOptions{});
  RunResult r;
  r.image_tokens = model.EncodeImages(ref.pixels.data(), ref.batch);
  const std::vector<GenerationInput> batch = testing::FixtureRequests(ref, r.image_tokens);
  GenerationOptions opt;
  opt.max_new_tokens = ref.steps;
  opt.keep_logits = true;
  opt.max_batch = max_batch;
  r.outs = Generator(model).Run(batch, opt);
  return r;
}

double MaxAbs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(double(x)));
  return m;
}

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

struct LogitStats {
  double err = 0, scale = 0;  // over compared steps
  int compared_steps = 0, total_steps = 0, token_mismatches = 0;
  std::string report;
};

// Compares `got` against `ref` step by step while their tokens agree; a differing token is a
// mismatch unless ref's top-1 margin at that step is below `margin_tol`.
LogitStats CompareRuns(const RunResult& ref, const RunResult& got, double margin_tol) {
  LogitStats s;
  for (size_t b = 0; b < ref.outs.size(); ++b) {
    const auto& r = ref.outs[b];
    const auto& g = got.outs[b];
    s.total_steps += static_cast<int>(r.tokens.size());
    const size_t steps = std::min({r.tokens.size(), g.tokens.size(), r.logits.size(), g.logits.size()});
    for (size_t t = 0; t < steps; ++t) {
      s.err = std::max(s.err, MaxDiff(r.logits[t], g.logits[t]));
      s.scale = std::max(s.scale, MaxAbs(r.logits[t]));
      ++s.compared_steps;
      if (r.tokens[t] == g.tokens[t]) continue;
      std::vector<float> sorted = r.logits[t];
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      const double margin = double(sorted[0]) - sorted[1];
      char line[200];
      std::snprintf(line, sizeof line, "seq %zu step %zu: cpu token %d cuda token %d, cpu top-1 margin %.3g (tol %.3g); ",
                    b, t, r.tokens[t], g.tokens[t], margin, margin_tol);
      s.report += line;
      if (margin >= margin_tol) ++s.token_mismatches;
      break;  // the contexts differ from here on
    }
    if (steps == std::min(r.tokens.size(), g.tokens.size()) && r.tokens.size() != g.tokens.size() &&
        std::equal(r.tokens.begin(), r.tokens.begin() + steps, g.tokens.begin())) {
      ++s.token_mismatches;  // one stopped (<eos>) where the other went on
      s.report += "seq " + std::to_string(b) + ": lengths differ; ";
    }
  }
  return s;
}

// Gates, relative to max |logit| and max |image token|: see the header comment.
constexpr double kLogitRel = 1.0 / 16;
constexpr double kImageRel = 1.0 / 64;
constexpr double kMarginRel = 1.0 / 256;

struct Case {
  std::string fixture;
  int max_batch;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.fixture << ", slots " << c.max_batch; }

class CudaModelParity : public ::testing::TestWithParam<Case> {};

TEST_P(CudaModelParity, SameBf16WeightsSameTokens) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) {
    const char* req = std::getenv("PG_REQUIRE_CUDA");
    if (req && std::string(req) != "0") FAIL() << "PG_REQUIRE_CUDA is set but CUDA is unavailable: " << why;
    GTEST_SKIP() << "CUDA backend not testable here: " << why;
  }
  const std::string name = GetParam().fixture;
  const fs::path work = fs::temp_directory_path() / ("pg_cuda_parity_" + name + "_" + std::to_string(getpid()));
  fs::create_directories(work);
  const std::string h5 = testing::ConvertFixture(name, (work / "model.h5").string());
  const testing::HfReference ref = testing::HfReference::Load(name);
  CheckpointReader ckpt(h5);

  auto fp32 = MakeBackend("cpu");
  Bf16WeightCpu cpu_w(false), cpu_wx(true);
  auto cuda = MakeBackend("cuda");
  const int slots = GetParam().max_batch;
  const RunResult r32 = RunModel(ckpt, *fp32, ref, slots);
  const RunResult rw = RunModel(ckpt, cpu_w, ref, slots);
  const RunResult rwx = RunModel(ckpt, cpu_wx, ref, slots);
  const RunResult rc = RunModel(ckpt, *cuda, ref, slots);

  // Informational: what bf16 storage does to this (random, tiny) model.
  const LogitStats w = CompareRuns(r32, rw, INFINITY), cw = CompareRuns(rw, rc, INFINITY);
  // The gate: CUDA against the CPU with CUDA's roundings.
  const double img_scale = MaxAbs(rwx.image_tokens), img_err = MaxDiff(rwx.image_tokens, rc.image_tokens);
  const LogitStats first = CompareRuns(rwx, rc, INFINITY);
  const double margin_tol = std::max(2 * first.err, first.scale * kMarginRel);
  const LogitStats c = CompareRuns(rwx, rc, margin_tol);
  std::printf("[cuda parity %s, slots %d] bf16 effects (informational): logits rel %.3g for bf16 weights vs fp32, "
              "rel %.3g for cuda vs cpu(bf16 weights only)\n",
              name.c_str(), slots, w.err / w.scale, cw.err / cw.scale);
  std::printf("[cuda parity %s, slots %d] cuda vs cpu(same bf16 roundings): image tokens rel %.3g; logits max abs %.3g, "
              "max |logit| %.3g, rel %.3g (gate %.3g) over %d of %d steps; margin tol %.3g; %s\n",
              name.c_str(), slots, img_err / img_scale, c.err, c.scale, c.err / c.scale, kLogitRel, c.compared_steps,
              c.total_steps, margin_tol, c.report.empty() ? "tokens identical" : c.report.c_str());
  EXPECT_LE(img_err, kImageRel * img_scale) << "image tokens: max abs error " << img_err << " scale " << img_scale;
  EXPECT_LE(c.err, kLogitRel * c.scale) << "logits: max abs error " << c.err << " scale " << c.scale;
  EXPECT_EQ(c.token_mismatches, 0) << c.report;
  EXPECT_GE(c.compared_steps, c.total_steps / 2) << "too few steps compared: " << c.report;
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaModelParity,
                         ::testing::Values(Case{"gemma1_mqa", 0}, Case{"gemma1_batch", 0}, Case{"gemma2", 0},
                                           Case{"gemma1_batch", 2}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.fixture + "_slots" + std::to_string(info.param.max_batch);
                         });

}  // namespace
}  // namespace pg
