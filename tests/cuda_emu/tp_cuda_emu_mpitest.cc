// The whole model on the emulated CUDA backend under tensor parallelism (mpirun -np tp): every
// rank loads its shard with LoadModelOnRank (the engine's path: CUDA backend + NCCL data plane,
// here the emulated NCCL over MPI), the ViT runs where --vit places it, the image tokens are
// broadcast / all-gathered on the device (EncodeImagesForGroupOnBackend) and the continuous
// batcher generates greedily with every logit kept. Checks, agreed over all ranks:
//   - the data plane is NCCL (tp > 1);
//   - no image-token byte crosses the host: BackendStats shows no download during the encode and
//     broadcast, uploads only of this rank's own pixels, and the generation uploads fewer bytes
//     than one image's tokens per sequence (the host path would upload all of them);
//   - against the tp 1 run of this program (--baseline; written with --write-baseline): greedy
//     tokens identical and max |logit - tp1| <= 2^-6 max |logit| (see docs/CUDA_BACKEND.md,
//     "Emulated NCCL": the tp split changes only fp32 summation order before bf16 roundings).
//
// usage: tp_cuda_emu_mpitest FIXTURE MODEL.h5 --tp N [--vit leader|sharded]
//                            [--baseline F.h5 | --write-baseline F.h5]
#include <cmath>
#include <cstdio>
#include <string>

#include "dist/run_main.h"
#include "engine/generator.h"
#include "engine/model_session.h"
#include "tests/hf_fixture.h"

namespace pg {
namespace {

int Run(int argc, char** argv) {
  PG_CHECK(argc >= 5, "usage: tp_cuda_emu_mpitest FIXTURE MODEL.h5 --tp N [--vit leader|sharded] "
                      "[--baseline F | --write-baseline F]");
  const std::string fixture = argv[1], model_path = argv[2];
  SessionOptions o;
  o.backend = "cuda";
  std::string baseline, write_baseline;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tp") o.tp = std::stoi(argv[i + 1]);
    else if (flag == "--vit") o.vit = ParseVitPlacement(argv[i + 1]);
    else if (flag == "--baseline") baseline = argv[i + 1];
    else if (flag == "--write-baseline") write_baseline = argv[i + 1];
    else PG_THROW("unknown flag " << flag);
  }
  World world = World::Create(o.tp);
  const WorldConfig& w = world.config();
  PG_CHECK(w.dp == 1, "tp_cuda_emu_mpitest runs one tensor-parallel group: -np must equal --tp");
  const testing::HfReference ref = testing::HfReference::Load(fixture);
  CheckpointReader ckpt(model_path);
  ModelOnRank m = LoadModelOnRank(ckpt, world.tp_group(), w.tp_rank, o, w.local_rank);
  PaliGemma& model = *m.model;
  Backend& be = model.backend();
  int64_t failures = 0;
  auto fail = [&](const std::string& what) {
    ++failures;
    std::fprintf(stderr, "[rank %d] FAIL: %s\n", w.world_rank, what.c_str());
  };
  if (w.tp > 1 && (!model.tp().comm || model.tp().comm->name().rfind("nccl:", 0) != 0))
    fail("the tp data plane is not NCCL: " + (model.tp().comm ? model.tp().comm->name() : std::string("none")));

  // Image tokens: encoded and exchanged on the device.
  const size_t per_pixels = ref.pixels.size() / ref.batch;
  const ImageRange mine = VitShare(model.tp(), o.vit, ref.batch);
  std::vector<float> pixels;
  if (model.has_vit()) pixels = ref.pixels;
  const BackendStats s0 = be.stats();
  const Tensor tokens = EncodeImagesForGroupOnBackend(model, o.vit, pixels, ref.batch);
  const BackendStats s1 = be.stats();
  const int64_t own_pixel_bytes = static_cast<int64_t>(per_pixels * (mine.last - mine.first) * sizeof(float));
  if (s1.bytes_to_host != s0.bytes_to_host)
    fail("the image-token exchange downloaded " + std::to_string(s1.bytes_to_host - s0.bytes_to_host) + " bytes");
  if (s1.bytes_from_host - s0.bytes_from_host > own_pixel_bytes)
    fail("the image-token exchange uploaded " + std::to_string(s1.bytes_from_host - s0.bytes_from_host) +
         " bytes; this rank's pixels are " + std::to_string(own_pixel_bytes));

  std::vector<GenerationInput> batch(ref.batch);
  for (int b = 0; b < ref.batch; ++b) {
    batch[b].image_tokens_on_backend = tokens.RowSlice(static_cast<int64_t>(ref.np) * b, ref.np);
    batch[b].text_ids = ref.text_ids[b];
    batch[b].seq_id = b;
  }
  GenerationOptions opt;
  opt.max_new_tokens = ref.steps;
  opt.keep_logits = true;
  const std::vector<GenerationOutput> outs = Generator(model).Run(batch, opt);
  const BackendStats s2 = be.stats();
  const int64_t host_path_bytes = static_cast<int64_t>(ref.batch) * ref.np * ref.d * sizeof(float);
  if (s2.bytes_from_host - s1.bytes_from_host >= host_path_bytes)
    fail("generation uploaded " + std::to_string(s2.bytes_from_host - s1.bytes_from_host) +
         " bytes: the image tokens went through the host (" + std::to_string(host_path_bytes) + ")");

  // Against the tp 1 run.
  double max_err = 0;
  if (!baseline.empty()) {
    H5ArrayFile base(baseline, "r");
    for (int b = 0; b < ref.batch; ++b) {
      std::vector<float> base_tokens = base.ReadF32("tokens_" + std::to_string(b));
      std::vector<float> got(outs[b].tokens.begin(), outs[b].tokens.end());
      if (got != base_tokens) fail("seq " + std::to_string(b) + ": greedy tokens differ from the tp 1 run");
      const std::vector<float> base_logits = base.ReadF32("logits_" + std::to_string(b));
      size_t k = 0;
      for (const auto& row : outs[b].logits)
        for (float v : row) {
          if (k < base_logits.size()) max_err = std::max(max_err, std::fabs(double(v) - base_logits[k]));
          ++k;
        }
      if (k != base_logits.size()) fail("seq " + std::to_string(b) + ": a different number of steps than tp 1");
    }
    const double tol = std::ldexp(1.0, -6) * ref.max_abs_logit;
    if (max_err > tol) fail("max |logit - tp1| " + std::to_string(max_err) + " > " + std::to_string(tol));
  }
  std::printf("[rank %d tp %d/%d vit %s] %d seqs on %s: max |logit - tp1| %.3g (rel %.3g); image exchange: %lld "
              "bytes down, %lld up (own pixels %lld)\n",
              w.world_rank, w.tp_rank, w.tp, o.vit == VitPlacement::kLeader ? "leader" : "sharded", ref.batch,
              model.tp().comm ? model.tp().comm->name().c_str() : "no data plane", max_err,
              max_err / ref.max_abs_logit, static_cast<long long>(s1.bytes_to_host - s0.bytes_to_host),
              static_cast<long long>(s1.bytes_from_host - s0.bytes_from_host),
              static_cast<long long>(own_pixel_bytes));
  if (!write_baseline.empty() && w.world_rank == 0) {
    PG_CHECK(w.world_size == 1, "--write-baseline runs at -np 1");
    H5ArrayFile f(write_baseline, "w");
    for (int b = 0; b < ref.batch; ++b) {
      std::vector<float> flat, toks(outs[b].tokens.begin(), outs[b].tokens.end());
      for (const auto& row : outs[b].logits) flat.insert(flat.end(), row.begin(), row.end());
      f.WriteF32("logits_" + std::to_string(b), {static_cast<int64_t>(outs[b].logits.size()), ref.vocab}, flat.data());
      f.WriteF32("tokens_" + std::to_string(b), {static_cast<int64_t>(toks.size())}, toks.data());
    }
  }
  const int64_t total = world.world().AllReduceSumInt64(failures);
  if (w.world_rank == 0)
    std::printf("%s: %lld failing checks over all ranks\n", total ? "FAIL" : "PASS", static_cast<long long>(total));
  return total == 0 ? 0 : 1;
}

}  // namespace
}  // namespace pg

int main(int argc, char** argv) { return pg::RunMpiMain(argc, argv, pg::Run); }
