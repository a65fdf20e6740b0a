#include "bench/bench_run.h"

#include <mpi.h>
#include <time.h>

#include <algorithm>
#include <filesystem>

#include "io/image_decode.h"
#include "io/image_resize.h"
#include "models/counter_rng.h"
#include "caption_job/image_list.h"

namespace pg {
namespace {

double Now() { return MPI_Wtime(); }

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Synthetic prompt of image `id`: <bos> and len - 1 ids from [3, vocab) (past pad/eos/bos).
std::vector<int> SyntheticPrompt(const ModelConfig& c, int len, uint64_t seed, int64_t id) {
  std::vector<int> ids{c.tokens.bos};
  const uint64_t span = static_cast<uint64_t>(c.text.vocab_size - 3);
  for (int k = 1; k < len; ++k)
    ids.push_back(3 + static_cast<int>(CounterRandom64(seed, static_cast<uint64_t>(id), k) % span));
  return ids;
}

}  // namespace

const std::vector<std::string>& PhaseTimes::Names() {
  static const std::vector<std::string> names{
      "image",          "vit",          "bcast",           "prefill",      "decode", "prefill_allreduce",
      "decode_allreduce", "allgather", "allreduce_calls", "allreduce_bytes", "decode_steps", "images", "e2e", "cpu",
      "decode_host_bytes"};
  return names;
}

std::vector<double> PhaseTimes::ToVector() const {
  return {image,     vit,           bcast,           prefill,         decode,       prefill_allreduce, decode_allreduce,
          allgather, allreduce_calls, allreduce_bytes, decode_steps, images,       e2e, cpu, decode_host_bytes};
}

PhaseTimes PhaseTimes::FromVector(const std::vector<double>& v) {
  PG_CHECK(v.size() == Names().size(), "PhaseTimes: " << v.size() << " values, expected " << Names().size());
  PhaseTimes t;
  double* fields[] = {&t.image,     &t.vit,             &t.bcast,           &t.prefill,      &t.decode,
                      &t.prefill_allreduce, &t.decode_allreduce, &t.allgather, &t.allreduce_calls,
                      &t.allreduce_bytes, &t.decode_steps, &t.images,         &t.e2e, &t.cpu, &t.decode_host_bytes};
  for (size_t i = 0; i < v.size(); ++i) *fields[i] = v[i];
  return t;
}

std::vector<std::string> DecodableImages(const std::string& images, int* skipped) {
  std::error_code ec;
  PG_CHECK(std::filesystem::exists(images, ec),
           "bench --image-source '" << images << "' does not exist (the default is PG_HOME/assets/images; set PG_HOME "
                                       "to the repository or pass --image-source DIR)");
  *skipped = 0;
  std::vector<std::string> ok;
  for (const std::string& path : ListImages(images)) {
    try {
      DecodeImageFile(path);
      ok.push_back(path);
    } catch (const Error&) {
      ++*skipped;
    }
  }
  PG_CHECK(!ok.empty(), "bench: none of the images in '" << images << "' decodes (" << *skipped << " tried)");
  return ok;
}

BenchRunner::BenchRunner(PaliGemma& model, BenchLayout& layout, TimedCommunicator* timed,
                         std::vector<std::string> image_files)
    : model_(model), layout_(layout), timed_(timed), files_(std::move(image_files)) {
  PG_CHECK(!files_.empty(), "bench: no image files");
}

std::vector<float> BenchRunner::DecodeImages(const std::vector<int64_t>& ids) {
  const int S = model_.config().vision.image_size;
  const size_t per_image = static_cast<size_t>(S) * S * 3;
  std::vector<float> pixels(per_image * ids.size());  // [n, S, S, 3]
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& path = files_[static_cast<size_t>(ids[i]) % files_.size()];
    std::vector<float> p = PreprocessImage(DecodeImageFile(path), S, ResizeFilter::kBilinearAntialias);
    std::copy(p.begin(), p.end(), pixels.begin() + per_image * i);
  }
  return pixels;
}

// Decodes this rank's share of the chunk's images and runs the group's ViT placement
// (EncodeImagesForGroup) with a barrier before the ViT and before the exchange.
Tensor BenchRunner::EncodeAndShare(const BenchCase& c, const std::vector<int64_t>& ids,
                                               PhaseTimes* t) {
  const ModelConfig& mc = model_.config();
  const int B = static_cast<int>(ids.size());
  const size_t per_image = static_cast<size_t>(mc.vision.image_size) * mc.vision.image_size * 3;
  const ImageRange mine = VitShare(model_.tp(), c.vit, B);
  const double s = Now();
  std::vector<float> pixels(per_image * mine.last);  // images before `first` stay zero: not read
  const std::vector<float> decoded =
      DecodeImages(std::vector<int64_t>(ids.begin() + mine.first, ids.begin() + mine.last));
  std::copy(decoded.begin(), decoded.end(), pixels.begin() + per_image * mine.first);
  t->image += Now() - s;
  EncodeTiming timing;
  timing.barriers = true;
  Tensor tokens = EncodeImagesForGroupOnBackend(model_, c.vit, pixels, B, &timing);  // [B, Np, D] on the backend
  t->vit += timing.vit_s;
  t->bcast += timing.exchange_s;
  return tokens;
}

void BenchRunner::Generate(const BenchCase& c, const std::vector<int64_t>& ids, const Tensor& tokens,
                           PhaseTimes* t) {
  const ModelConfig& mc = model_.config();
  const int B = static_cast<int>(ids.size());
  const int64_t Np = mc.num_image_tokens();
  // The engine's one generation loop, all of the chunk admitted in one prefill and every
  // sequence run to new_tokens (random weights emit <eos> at random).
  BatcherOptions bo;
  bo.max_batch = B;
  bo.max_new_tokens = c.new_tokens;
  bo.max_prompt_tokens = c.prompt_len;
  bo.max_prefill_tokens = B * (mc.num_image_tokens() + c.prompt_len);
  bo.ignore_eos = true;
  bo.keep_logits = c.full_logits;
  if (!batcher_ || batcher_options_.max_batch != bo.max_batch || batcher_options_.max_new_tokens != bo.max_new_tokens ||
      batcher_options_.max_prompt_tokens != bo.max_prompt_tokens || batcher_options_.keep_logits != bo.keep_logits) {
    batcher_.reset();  // frees the old KV cache first
    batcher_ = std::make_unique<ContinuousBatcher>(model_, bo);
    batcher_options_ = bo;
  }
  for (int b = 0; b < B; ++b) {
    GenerationInput in;
    in.image_tokens_on_backend = tokens.RowSlice(Np * b, Np);
    in.text_ids = SyntheticPrompt(mc, c.prompt_len, c.seed, ids[b]);
    in.seq_id = ids[b];
    batcher_->Submit(std::move(in));
  }
  auto stats = [&] { return timed_ ? timed_->stats() : CommStats{}; };

  const CommStats s0 = stats();
  double s = Now();
  batcher_->Prefill();
  t->prefill += Now() - s;
  const CommStats s1 = stats();

  s = Now();
  const int64_t steps0 = batcher_->decode_steps(), host0 = model_.backend().stats().bytes_to_host;
  while (!batcher_->idle()) batcher_->Decode();
  t->decode += Now() - s;
  t->decode_host_bytes += static_cast<double>(model_.backend().stats().bytes_to_host - host0);
  t->decode_steps += static_cast<double>(batcher_->decode_steps() - steps0);
  const CommStats s2 = stats();
  t->prefill_allreduce += (s1 - s0).all_reduce.seconds;
  t->decode_allreduce += (s2 - s1).all_reduce.seconds;
  t->allgather += (s2 - s0).all_gather.seconds;
  t->allreduce_calls += static_cast<double>((s2 - s0).all_reduce.calls);
  t->allreduce_bytes += static_cast<double>((s2 - s0).all_reduce.bytes);
}

PhaseTimes BenchRunner::Run(const BenchCase& c) {
  PG_CHECK(c.batch >= 1 && c.images >= 0 && c.prompt_len >= 1 && c.new_tokens >= 1,
           "bench: batch " << c.batch << ", images " << c.images << ", prompt length " << c.prompt_len
                           << ", new tokens " << c.new_tokens << " (need batch, prompt length, new tokens >= 1)");
  std::vector<int64_t> mine;  // this replica's images
  for (int64_t i = 0; i < c.images; ++i)
    if (i % layout_.dp == layout_.dp_rank) mine.push_back(i);
  PhaseTimes t;
  layout_.active_comm->Barrier();
  const double start = Now(), cpu_start = ProcessCpuSeconds();
  for (size_t first = 0; first < mine.size(); first += c.batch) {
    const std::vector<int64_t> ids(mine.begin() + first,
                                   mine.begin() + std::min(mine.size(), first + static_cast<size_t>(c.batch)));
    const Tensor tokens = EncodeAndShare(c, ids, &t);
    Generate(c, ids, tokens, &t);
    t.images += static_cast<double>(ids.size());
  }
  layout_.active_comm->Barrier();
  t.e2e = Now() - start;
  t.cpu = ProcessCpuSeconds() - cpu_start;
  return t;
}

}  // namespace pg
