// The engine's one generation loop (engine/continuous_batcher.h) on a converted HF fixture:
//  - no backend allocation during decode steps after the first: the step is allocation-free;
//  - greedy decoding moves B x 8 bytes (the TopK value/id pairs) per decode step to the host,
//    the full logits only with keep_logits;
//  - ignore_eos runs every sequence to max_new_tokens; a refilled slot gives the same tokens as
//    a fresh batcher (no state leaks from the sequence that held the slot before).
// HF parity of the loop itself is in hf_parity_test.cc and tests/tp/.
#include <gtest/gtest.h>

#include <filesystem>

#include "hf_fixture.h"
#include "models/checkpoint_reader.h"
#include "engine/continuous_batcher.h"

namespace pg {
namespace {

namespace fs = std::filesystem;

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / ("pg_batcher_" + std::to_string(getpid()));
    fs::create_directories(work_);
    ref_ = testing::HfReference::Load("gemma1_batch");
    ckpt_ = std::make_unique<CheckpointReader>(testing::ConvertFixture("gemma1_batch", (work_ / "m.h5").string()));
    be_ = MakeBackend("cpu");
    model_ = std::make_unique<PaliGemma>(*ckpt_, *be_, TpGroup{}, PaliGemmaLoadOptions{});
    tokens_ = model_->EncodeImages(ref_.pixels.data(), ref_.batch);
  }
  void TearDown() override { fs::remove_all(work_); }

  GenerationInput Request(int b, int64_t id) const {
    GenerationInput in;
    const size_t per = static_cast<size_t>(ref_.np) * ref_.d;
    in.image_tokens.assign(tokens_.begin() + per * b, tokens_.begin() + per * (b + 1));
    in.text_ids = ref_.text_ids[b];
    in.seq_id = id;
    return in;
  }

  fs::path work_;
  testing::HfReference ref_;
  std::unique_ptr<CheckpointReader> ckpt_;
  std::unique_ptr<Backend> be_;
  std::unique_ptr<PaliGemma> model_;
  std::vector<float> tokens_;
};

TEST_F(BatcherTest, DecodeStepsAllocateNothingAndMoveOnlyTokenPairs) {
  BatcherOptions o;
  o.max_batch = 3;  // 4 requests: one waits for a free slot
  o.max_new_tokens = ref_.steps;
  ContinuousBatcher cb(*model_, o);
  for (int b = 0; b < ref_.batch; ++b) cb.Submit(Request(b, b));
  cb.Prefill();
  cb.Decode();  // the first step may size lazily-grown buffers
  const int64_t allocations = be_->stats().allocations;
  int decode_steps = 0;
  while (!cb.idle()) {
    cb.Prefill();  // refills the freed slots (prefill steps are allowed their host uploads)
    const int live = cb.active();
    const int64_t to_host = be_->stats().bytes_to_host;
    cb.Decode();
    if (live > 0) {
      ++decode_steps;
      EXPECT_EQ(be_->stats().bytes_to_host - to_host, int64_t{live} * 8)
          << "a greedy decode step of " << live << " sequences should move only its (value, id) pairs";
    }
  }
  EXPECT_GT(decode_steps, 3);
  EXPECT_EQ(be_->stats().allocations, allocations) << "backend allocations during decode steps";
}

TEST_F(BatcherTest, KeepLogitsMovesFullRows) {
  BatcherOptions o;
  o.max_batch = 4;
  o.max_new_tokens = 2;
  o.keep_logits = true;
  ContinuousBatcher cb(*model_, o);
  for (int b = 0; b < ref_.batch; ++b) cb.Submit(Request(b, b));
  cb.Prefill();
  const int live = cb.active();
  const int64_t to_host = be_->stats().bytes_to_host;
  cb.Decode();
  EXPECT_EQ(be_->stats().bytes_to_host - to_host, int64_t{live} * (ref_.vocab * 4 + 8));
}

// Temperature sampling without top-k needs whole rows: with keep_logits the sampler reuses the
// rows already gathered for the result, and draws the same tokens as without keep_logits.
TEST_F(BatcherTest, KeepLogitsDoesNotChangeFullRowSampling) {
  std::vector<std::vector<int>> runs;
  for (bool keep : {false, true}) {
    BatcherOptions o;
    o.max_batch = 4;
    o.max_new_tokens = ref_.steps;
    o.sampling.temperature = 1.3f;
    o.sampling.seed = 5;
    o.keep_logits = keep;
    ContinuousBatcher cb(*model_, o);
    for (int b = 0; b < ref_.batch; ++b) cb.Submit(Request(b, b));
    std::map<int64_t, std::vector<int>> got;
    while (!cb.idle())
      for (SequenceResult& r : cb.Step()) got[r.id] = r.tokens;
    std::vector<int> all;
    for (auto& [id, t] : got) all.insert(all.end(), t.begin(), t.end());
    runs.push_back(all);
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_GT(runs[0].size(), 4u);
}

TEST_F(BatcherTest, IgnoreEosRunsToMaxNewTokens) {
  BatcherOptions o;
  o.max_batch = 4;
  o.max_new_tokens = ref_.steps;
  o.ignore_eos = true;
  ContinuousBatcher cb(*model_, o);
  for (int b = 0; b < ref_.batch; ++b) cb.Submit(Request(b, b));
  std::vector<SequenceResult> done;
  while (!cb.idle())
    for (SequenceResult& r : cb.Step()) done.push_back(std::move(r));
  ASSERT_EQ(done.size(), static_cast<size_t>(ref_.batch));
  bool some_eos_inside = false;
  for (const SequenceResult& r : done) {
    EXPECT_EQ(static_cast<int>(r.tokens.size()), ref_.steps) << "sequence " << r.id;
    const std::vector<int>& hf = ref_.tokens[r.id];  // HF stops at <eos>: the prefix must agree
    EXPECT_EQ(std::vector<int>(r.tokens.begin(), r.tokens.begin() + hf.size()), hf) << "sequence " << r.id;
    some_eos_inside |= static_cast<int>(hf.size()) < ref_.steps;
  }
  EXPECT_TRUE(some_eos_inside) << "the fixture should stop a sequence at <eos> early";
}

TEST_F(BatcherTest, RefilledSlotMatchesAFreshBatcher) {
  BatcherOptions o;
  o.max_batch = 1;
  o.max_new_tokens = ref_.steps;
  ContinuousBatcher cb(*model_, o);
  // The same request twice in one slot (ids 0 and 1), after another one (id 2).
  cb.Submit(Request(3, 2));
  cb.Submit(Request(0, 0));
  cb.Submit(Request(0, 1));
  std::map<int64_t, std::vector<int>> got;
  while (!cb.idle())
    for (SequenceResult& r : cb.Step()) got[r.id] = r.tokens;
  EXPECT_EQ(got[0], ref_.tokens[0]);
  EXPECT_EQ(got[1], ref_.tokens[0]);
  EXPECT_EQ(got[2], ref_.tokens[3]);
}

TEST_F(BatcherTest, RejectsMalformedRequests) {
  BatcherOptions o;
  o.max_batch = 2;
  o.max_new_tokens = 4;
  ContinuousBatcher cb(*model_, o);
  GenerationInput bad = Request(0, 0);
  bad.image_tokens.pop_back();
  EXPECT_THROW(cb.Submit(bad), Error);
  bad = Request(0, 0);
  bad.text_ids.push_back(ref_.vocab);
  EXPECT_THROW(cb.Submit(bad), Error);
  bad.text_ids.clear();
  EXPECT_THROW(cb.Submit(bad), Error);
  EXPECT_TRUE(cb.idle());
}

}  // namespace
}  // namespace pg
