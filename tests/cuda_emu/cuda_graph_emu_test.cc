// CUDA graphs for the decode step (runtime/cuda/step_graph.h), under the CPU emulation of CUDA:
//  - CudaEmuGraph.*: the emulator's stream capture (nodes recorded, not run; a graph launch runs
//    them, a copy node reading its pinned source at launch) and the calls a capture forbids;
//  - CudaGraphStep.*: decode-like steps through Backend::RunStep on a CUDA backend with graphs
//    against one with PG_CUDA_GRAPHS=0: bit-identical outputs at every step, one graph launch and
//    no kernel launch per replayed step, a changed scalar argument not replayed, a host read
//    inside the step falling back to eager; and the whole model (Generator on an HF fixture)
//    with graphs against without: bit-identical logits and tokens.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "hf_fixture.h"
#include "models/checkpoint_reader.h"
#include "runtime/cuda/cuda_backend_impl.h"
#include "runtime/cuda_backend.h"

namespace pg {
namespace {

// ---- the emulator -------------------------------------------------------------------------------
__global__ void add_one_kernel(float* x) { x[threadIdx.x] += 1.f; }

TEST(CudaEmuGraph, CaptureRecordsLaunchReplaysWithPinnedSourceReadAtLaunch) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  float *d = nullptr, *in = nullptr, *out = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&d), 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&in), 4 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&out), 4 * sizeof(float)), cudaSuccess);
  for (int i = 0; i < 4; ++i) in[i] = out[i] = -7.f;
  const int64_t launches = pgemu::LaunchCount(), graphs = pgemu::GraphLaunchCount();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(d, in, 4 * sizeof(float), cudaMemcpyHostToDevice, s), cudaSuccess);
  ::pgemu::MakeLaunch(add_one_kernel, 1, 4, 0, s, "add_one_kernel")(d);
  ASSERT_EQ(cudaMemcpyAsync(out, d, 4 * sizeof(float), cudaMemcpyDeviceToHost, s), cudaSuccess);
  cudaStreamCaptureStatus st;
  ASSERT_EQ(cudaStreamIsCapturing(s, &st), cudaSuccess);
  EXPECT_EQ(st, cudaStreamCaptureStatusActive);
  cudaGraph_t g = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  size_t nodes = 0;
  ASSERT_EQ(cudaGraphGetNodes(g, nullptr, &nodes), cudaSuccess);
  EXPECT_EQ(nodes, 3u);
  EXPECT_EQ(out[0], -7.f) << "a captured operation ran at capture time";
  EXPECT_EQ(pgemu::LaunchCount(), launches);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, g, 0), cudaSuccess);
  for (float v : {5.f, 10.f}) {
    for (int i = 0; i < 4; ++i) in[i] = v + i;  // the copy node reads the pinned source at launch
    ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], v + i + 1.f);
  }
  EXPECT_EQ(pgemu::GraphLaunchCount(), graphs + 2);
  EXPECT_EQ(pgemu::LaunchCount(), launches) << "a graph's kernels are not host launches";
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(g), cudaSuccess);
  EXPECT_NE(cudaGraphDestroy(g), cudaSuccess) << "double destroy must be an error";
  cudaGetLastError();
  cudaFreeHost(in);
  cudaFreeHost(out);
  cudaFree(d);
  cudaStreamDestroy(s);
}

// Each call a capture forbids fails and invalidates it, so EndCapture fails and returns no graph.
TEST(CudaEmuGraph, ForbiddenCallsInvalidateTheCapture) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  float* d = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&d), 16), cudaSuccess);
  float host[4] = {};
  cudaEvent_t ev;
  ASSERT_EQ(cudaEventCreate(&ev), cudaSuccess);
  struct Case {
    const char* what;
    std::function<cudaError_t()> call;
    cudaError_t want;
  };
  const std::vector<Case> cases = {
      {"cudaStreamSynchronize", [&] { return cudaStreamSynchronize(s); }, cudaErrorStreamCaptureUnsupported},
      {"cudaMalloc", [&] { void* p; return cudaMalloc(&p, 16); }, cudaErrorStreamCaptureUnsupported},
      {"cudaMallocAsync", [&] { void* p; return cudaMallocAsync(&p, 16, s); }, cudaErrorStreamCaptureUnsupported},
      {"cudaMemcpy", [&] { return cudaMemcpy(host, d, 16, cudaMemcpyDeviceToHost); },
       cudaErrorStreamCaptureUnsupported},
      {"cudaEventSynchronize", [&] {
         cudaEventRecord(ev, s);
         return cudaEventSynchronize(ev);
       },
       cudaErrorCapturedEvent},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    EXPECT_EQ(c.call(), c.want);
    cudaGraph_t g = nullptr;
    const cudaError_t end = cudaStreamEndCapture(s, &g);
    if (c.want != cudaErrorCapturedEvent) {
      EXPECT_EQ(end, cudaErrorStreamCaptureInvalidated);
      EXPECT_EQ(g, nullptr);
    }
    if (g) cudaGraphDestroy(g);
    cudaEventRecord(ev, s);  // recorded outside a capture again: may be waited on
    EXPECT_EQ(cudaEventSynchronize(ev), cudaSuccess);
    cudaGetLastError();
  }
  cudaEventDestroy(ev);
  cudaFree(d);
  cudaStreamDestroy(s);
}

// ---- decode-like steps through RunStep ------------------------------------------------------------
constexpr int64_t kB = 3, kD = 64, kH = 4, kKH = 1, kHd = 16, kS = 40, kV = 97;

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

std::unique_ptr<Backend> CudaWithGraphs(bool on) {
  setenv("PG_CUDA_GRAPHS", on ? "1" : "0", 1);
  auto be = MakeBackend("cuda");
  unsetenv("PG_CUDA_GRAPHS");
  return be;
}

const cuda::StepGraphStats& GraphStats(Backend& be) { return dynamic_cast<cuda::CudaBackend&>(be).graph_stats(); }

// One attention block and the LM head, decode-shaped: what a Gemma decode step does, small.
struct MiniDecoder {
  Backend& be;
  Tensor table, wqkv, wo, norm, x, qkv, q, k, v, attn, out, h, logits, kc, vc;
  explicit MiniDecoder(Backend& b) : be(b) {
    table = be.UploadWeight("table", {kV, kD}, Random(kV * kD, 1).data());
    wqkv = be.UploadWeight("wqkv", {kD, (kH + 2 * kKH) * kHd}, Random(kD * (kH + 2 * kKH) * kHd, 2).data());
    wo = be.UploadWeight("wo", {kH * kHd, kD}, Random(kH * kHd * kD, 3).data());
    norm = be.UploadWeight("norm", {kD}, Random(kD, 4).data());
    x = be.Alloc("x", {kB, 1, kD});
    qkv = be.Alloc("qkv", {kB, 1, (kH + 2 * kKH) * kHd});
    q = be.Alloc("q", {kB, 1, kH, kHd});
    k = be.Alloc("k", {kB, 1, kKH, kHd});
    v = be.Alloc("v", {kB, 1, kKH, kHd});
    attn = be.Alloc("attn", {kB, 1, kH, kHd});
    out = be.Alloc("out", {kB, 1, kD});
    h = be.Alloc("h", {kB, 1, kD});
    logits = be.Alloc("logits", {kB, kV});
    kc = be.AllocKvCache("k_cache", {kB, kS, kKH, kHd});
    vc = be.AllocKvCache("v_cache", {kB, kS, kKH, kHd});
  }
  // Step `i`: token ids, positions and key counts change every step; `scale` is a launch scalar.
  std::vector<float> Step(int i, float scale) {
    std::vector<int> ids, positions;
    AttentionMask mask;
    for (int64_t b = 0; b < kB; ++b) {
      ids.push_back(static_cast<int>((7 * i + 13 * b) % kV));
      const int pos = 2 + i + static_cast<int>(b);
      positions.push_back(pos);
      mask.q_start.push_back(pos);
      mask.kv_len.push_back(pos + 1);
      mask.prefix_len.push_back(2);
    }
    mask.slot = {2, 0, 1};
    const std::vector<int> count(kB, 1);
    AttentionParams ap;
    ap.scale = 0.25f;
    StepKey key;
    key.batch = kB;
    key.cache_len = kS;
    be.RunStep(key, [&] {
      be.Embed(table, ids, 0, 1.f, x);
      be.Scale(x, scale);
      be.RmsNorm(x, norm, 1e-6f, h);
      be.MatMul(h, wqkv, nullptr, qkv);
      be.SplitQkvRopeToCache(qkv, positions, 10000.f, mask, count, q, k, v, kc, vc);
      be.Attention(q, kc, vc, mask, ap, attn);
      Tensor flat = attn.Reshaped({kB, 1, kH * kHd});
      be.MatMul(flat, wo, nullptr, out);
      be.AddRmsNorm(x, out, norm, 1e-6f, h);
      be.MatMulTransB(h, table, logits);
    });
    std::vector<float> host(kB * kV);
    be.Download(logits, host.data());
    return host;
  }
};

void ExpectBitIdentical(const std::vector<float>& a, const std::vector<float>& b, int step) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "step " << step << ": logits differ";
}

TEST(CudaGraphStep, DecodeStepsMatchEager) {
  auto eager = CudaWithGraphs(false), graphs = CudaWithGraphs(true);
  MiniDecoder e(*eager), g(*graphs);
  constexpr int kSteps = 7;
  for (int i = 0; i < kSteps; ++i) {
    const int64_t launches = pgemu::LaunchCount(), graph_launches = pgemu::GraphLaunchCount();
    const std::vector<float> got = g.Step(i, 0.5f);
    const int64_t step_launches = pgemu::LaunchCount() - launches;
    const int64_t step_graphs = pgemu::GraphLaunchCount() - graph_launches;
    ExpectBitIdentical(e.Step(i, 0.5f), got, i);
    if (i == 0) {  // warm-up: eager
      EXPECT_GT(step_launches, 5);
      EXPECT_EQ(step_graphs, 0);
    } else {  // captured (step 1), then replayed: the whole step is one graph launch
      EXPECT_EQ(step_launches, 0) << "step " << i;
      EXPECT_EQ(step_graphs, 1) << "step " << i;
    }
  }
  const cuda::StepGraphStats& st = GraphStats(*graphs);
  EXPECT_EQ(st.captures, 1);
  EXPECT_EQ(st.replays, kSteps - 2);
  EXPECT_EQ(st.mismatches, 0);
  EXPECT_EQ(GraphStats(*eager).replays + GraphStats(*eager).captures, 0);
}

TEST(CudaGraphStep, ChangedScalarIsNotReplayed) {
  auto eager = CudaWithGraphs(false), graphs = CudaWithGraphs(true);
  MiniDecoder e(*eager), g(*graphs);
  for (int i = 0; i < 6; ++i) {
    const float scale = i < 3 ? 0.5f : 0.75f;  // Scale's argument changes at step 3
    ExpectBitIdentical(e.Step(i, scale), g.Step(i, scale), i);
  }
  const cuda::StepGraphStats& st = GraphStats(*graphs);
  EXPECT_EQ(st.mismatches, 1) << "step 3 must not replay the graph of scale 0.5";
  EXPECT_EQ(st.captures, 2);
  EXPECT_EQ(st.replays, 3);  // steps 2, 4, 5
}

TEST(CudaGraphStep, HostReadInsideStepRunsEagerly) {
  auto graphs = CudaWithGraphs(true);
  Tensor x = graphs->Alloc("x", {4});
  std::vector<float> seen(4);
  StepKey key;
  key.batch = 1;
  for (int i = 0; i < cuda::kMaxGraphFailures + 3; ++i) {
    graphs->RunStep(key, [&] {
      graphs->Scale(x, 2.f);
      graphs->Download(x, seen.data());  // needs the host: cannot be captured
    });
  }
  const cuda::StepGraphStats& st = GraphStats(*graphs);
  EXPECT_EQ(st.replays + st.captures, 0);
  EXPECT_EQ(st.abandoned_keys, 1);
  EXPECT_EQ(st.eager_steps, cuda::kMaxGraphFailures + 3);
}

// ---- the whole model --------------------------------------------------------------------------
class CudaGraphModel : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaGraphModel, WholeModelMatchesEager) {
  namespace fs = std::filesystem;
  const std::string name = GetParam();
  const fs::path work = fs::temp_directory_path() / ("pg_cuda_graph_" + std::to_string(getpid()));
  fs::create_directories(work);
  const std::string h5 = testing::ConvertFixture(name, (work / "model.h5").string());
  const testing::HfReference ref = testing::HfReference::Load(name);
  CheckpointReader ckpt(h5);
  std::vector<std::vector<GenerationOutput>> runs;
  for (bool on : {false, true}) {
    auto be = CudaWithGraphs(on);
    PaliGemma model(ckpt, *be, TpGroup{}, PaliGemmaLoadOptions{});
    const std::vector<float> image_tokens = model.EncodeImages(ref.pixels.data(), ref.batch);
    GenerationOptions opt;
    opt.max_new_tokens = ref.steps + 4;
    opt.keep_logits = true;
    runs.push_back(Generator(model).Run(testing::FixtureRequests(ref, image_tokens), opt));
    const cuda::StepGraphStats& st = GraphStats(*be);
    std::printf("[cuda graphs %s, %s] eager steps %lld, captures %lld, replays %lld, mismatches %lld\n",
                name.c_str(), on ? "on" : "off", static_cast<long long>(st.eager_steps), static_cast<long long>(st.captures),
                static_cast<long long>(st.replays), static_cast<long long>(st.mismatches));
    if (on) {
      EXPECT_GT(st.replays, 0);
      EXPECT_EQ(st.mismatches, 0);
    }
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (size_t b = 0; b < runs[0].size(); ++b) {
    EXPECT_EQ(runs[0][b].tokens, runs[1][b].tokens) << "sequence " << b;
    ASSERT_EQ(runs[0][b].logits.size(), runs[1][b].logits.size());
    for (size_t t = 0; t < runs[0][b].logits.size(); ++t) ExpectBitIdentical(runs[0][b].logits[t], runs[1][b].logits[t], t);
  }
  fs::remove_all(work);
}

// gemma1_batch: continuous batching (batch 4 .. 1, one graph per batch size); gemma1_mqa: one
// sequence, many replays; gemma2: sliding window and soft-caps.
INSTANTIATE_TEST_SUITE_P(Fixtures, CudaGraphModel, ::testing::Values("gemma1_batch", "gemma1_mqa", "gemma2"));

}  // namespace
}  // namespace pg
