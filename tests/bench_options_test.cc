// `paligemma bench` options and layouts (bench/bench_driver.h, bench/bench_layout.h), and the
// per-phase record's round trip through the vector gathered over ranks.
#include <gtest/gtest.h>

#include "bench/bench_driver.h"
#include "bench/bench_layout.h"
#include "bench/bench_report.h"
#include "bench/collective_sweep.h"

namespace pg {
namespace {

TEST(BenchLayout, ProblemsNameTheReason) {
  EXPECT_EQ(LayoutProblem(4, 4, 2), "");
  EXPECT_EQ(LayoutProblem(4, 2, 2), "");
  EXPECT_NE(LayoutProblem(4, 8, 1).find("do not fit the MPI world of 4"), std::string::npos);
  EXPECT_NE(LayoutProblem(4, 2, 4).find("--tp 4 does not divide 2 ranks"), std::string::npos);
  EXPECT_NE(LayoutProblem(4, 3, 2).find("does not divide"), std::string::npos);
}

TEST(BenchOptions, QuickFillsOnlyWhatWasNotGiven) {
  BenchOptions o;
  o.config = "c.json";
  o.quick = true;
  o.batch = {8};
  o.ApplyQuick(2, {"--batch"});
  EXPECT_EQ(o.ranks, (std::vector<int>{1, 2}));  // 4 does not fit a world of 2
  EXPECT_EQ(o.tp, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(o.batch, (std::vector<int>{8}));
  EXPECT_EQ(o.scaling, (std::vector<std::string>{"strong", "weak"}));
  EXPECT_NO_THROW(o.Validate());

  BenchOptions slow;
  slow.ApplyQuick(4, {});  // not --quick: unchanged
  EXPECT_EQ(slow.batch, (std::vector<int>{1, 4, 16}));
}

TEST(BenchOptions, ValidateRejectsBadValues) {
  auto bad = [](auto edit) {
    BenchOptions o;
    o.model = "m.h5";
    o.ranks = {1};
    edit(o);
    EXPECT_THROW(o.Validate(), Error);
  };
  bad([](BenchOptions& o) { o.config = "c.json"; });  // both --model and --config
  bad([](BenchOptions& o) { o.model.clear(); });      // neither
  bad([](BenchOptions& o) { o.batch = {0}; });
  bad([](BenchOptions& o) { o.scaling = {"medium"}; });
  bad([](BenchOptions& o) { o.vit = {"middle"}; });
  bad([](BenchOptions& o) { o.dtype = "f16"; });
  bad([](BenchOptions& o) { o.iters = 0; });
  bad([](BenchOptions& o) { o.new_tokens = 0; });
}

TEST(PhaseTimes, VectorRoundTripAndMedian) {
  PhaseTimes t;
  t.image = 1, t.vit = 2, t.bcast = 3, t.prefill = 4, t.decode = 5, t.e2e = 9, t.decode_steps = 19;
  const std::vector<double> v = t.ToVector();
  ASSERT_EQ(v.size(), PhaseTimes::Names().size());
  const PhaseTimes u = PhaseTimes::FromVector(v);
  EXPECT_EQ(u.ToVector(), v);
  EXPECT_THROW(PhaseTimes::FromVector({1, 2}), Error);
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 2, 3}), 2.5);
}

TEST(BenchRow, CsvLineHasOneValuePerColumn) {
  BenchRow r;
  r.model = "tiny";
  r.images = 8;
  r.new_tokens = 20;
  r.max.e2e = 2;
  r.max.decode = 1.9;
  r.max.decode_steps = 19;
  auto count = [](const std::string& s) { return std::count(s.begin(), s.end(), ','); };
  EXPECT_EQ(count(r.CsvLine()), count(BenchRow::CsvHeader()));
  EXPECT_DOUBLE_EQ(r.images_per_s(), 4);
  EXPECT_DOUBLE_EQ(r.tokens_per_s(), 80);
  EXPECT_DOUBLE_EQ(r.decode_step_ms(), 100);
}

}  // namespace
}  // namespace pg
