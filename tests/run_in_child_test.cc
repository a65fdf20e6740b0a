// runtime/run_in_child.h: a check run in a forked child; its failure or crash is an error
// naming the input, its success returns, and it cannot hang the caller.
#include "runtime/run_in_child.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "models/checkpoint_reader.h"
#include "tests/error_matchers.h"

namespace pg {
namespace {

TEST(RunInChild, SuccessReturnsAndChangesNothingHere) {
  int touched = 0;
  RunInChild("input 'a'", [&] { touched = 1; });
  EXPECT_EQ(touched, 0);  // the child's memory is its own
}

TEST(RunInChild, AnErrorInTheChildIsRethrownWithItsMessage) {
  EXPECT_ERROR_HAS(RunInChild("input 'a'", [] { PG_THROW("input 'a': dataset 'x' has shape [2]"); }),
                   "input 'a': dataset 'x' has shape [2]");
}

TEST(RunInChild, ACrashInTheChildIsAnErrorNamingTheInputAndSignal) {
  EXPECT_ERROR_HAS(RunInChild("checkpoint 'b.h5'", [] { raise(SIGSEGV); }), "checkpoint 'b.h5': the check crashed");
  EXPECT_ERROR_HAS(RunInChild("checkpoint 'b.h5'", [] { abort(); }), "signal 6");
}

TEST(RunInChild, AHangingChildIsKilledAtTheDeadline) {
  EXPECT_ERROR_HAS(RunInChild("input 'c'", [] { pause(); }, 0.5), "input 'c': the isolated check did not finish in 0.5 s");
}

TEST(RunInChild, ExitWithoutMessageIsAnError) {
  EXPECT_ERROR_HAS(RunInChild("input 'd'", [] { _exit(3); }), "exit status 3 and no message");
}

// A file on which libhdf5 1.10.8's H5Lvisit frees a wild pointer (found by fuzz/checkpoint_bytes):
// opening it is an error naming the file, not a crash of the caller.
TEST(RunInChild, CheckpointThatCrashesLibhdf5IsAnError) {
  const std::string path = std::string(PG_SOURCE_DIR) + "/fuzz/corpus/checkpoint_bytes/crash-libhdf5-h5lvisit-dense-links-bad-free";
  const std::string msg = testing::ErrorOf([&] { CheckpointReader r(path); });
  EXPECT_NE(msg.find("checkpoint '" + path + "'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace pg
