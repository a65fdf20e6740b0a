#include "dist/world.h"

#include <sstream>

#include "dist/abort.h"
#include "dist/error_agreement.h"
#include "runtime/check.h"

namespace pg {
namespace {

// "1, 2, 4, 8"
std::string Divisors(int n) {
  std::ostringstream os;
  for (int d = 1; d <= n; ++d) {
    if (n % d == 0) os << (d > 1 ? ", " : "") << d;
  }
  return os.str();
}

}  // namespace

std::string WorldConfig::ToString() const {
  std::ostringstream os;
  os << "rank " << world_rank << "/" << world_size << " tp " << tp_rank << "/" << tp << " dp "
     << dp_rank << "/" << dp << " local " << local_rank << "/" << local_size;
  return os.str();
}

std::string LayoutError(int world_size, int tp) {
  std::ostringstream os;
  if (world_size < 1) {
    os << "world size " << world_size << " is not a positive number of ranks";
  } else if (tp < 1) {
    os << "--tp must be at least 1, got " << tp << " (world size " << world_size << ")";
  } else if (world_size % tp != 0) {
    os << "--tp " << tp << " does not divide the world size " << world_size << " (mpirun -np "
       << world_size << "): tensor-parallel groups need world_size % tp == 0; use a --tp that "
       << "divides " << world_size << " (" << Divisors(world_size) << ")";
  }
  return os.str();
}

WorldConfig MakeWorldConfig(int world_rank, int world_size, int tp, int local_rank,
                            int local_size) {
  const std::string error = LayoutError(world_size, tp);
  PG_CHECK(error.empty(), error);
  PG_CHECK(world_rank >= 0 && world_rank < world_size,
           "world rank " << world_rank << " is outside [0, " << world_size << ")");
  PG_CHECK(local_rank >= 0 && local_rank < local_size,
           "local rank " << local_rank << " is outside [0, " << local_size << ")");
  WorldConfig c;
  c.world_rank = world_rank;
  c.world_size = world_size;
  c.tp = tp;
  c.dp = world_size / tp;
  c.tp_rank = world_rank % tp;
  c.dp_rank = world_rank / tp;
  c.local_rank = local_rank;
  c.local_size = local_size;
  return c;
}

void CheckDivides(const char* what, int value, int tp, const std::string& model_name,
                  int world_size) {
  if (world_size < 0) world_size = WorldSizeForLogs();
  std::ostringstream where;
  if (world_size > 0) where << " (world size " << world_size << ")";
  PG_CHECK(tp >= 1, "model '" << model_name << "': --tp must be at least 1, got " << tp
                              << where.str());
  PG_CHECK(value >= 1, "model '" << model_name << "': " << value << " " << what
                                 << " cannot be split over --tp " << tp << where.str());
  PG_CHECK(value % tp == 0, "model '" << model_name << "': " << value << " " << what
                                      << " are not divisible by --tp " << tp << where.str()
                                      << "; use a --tp that divides " << value << " ("
                                      << Divisors(value) << ")");
}

World World::Create(int tp) {
  World w;
  w.world_ = MpiCommunicator::Duplicate(MPI_COMM_WORLD, "world");
  // Every rank must have been started with the same --tp, or the verdicts below could differ.
  const int64_t tp_min = w.world_->AllReduceMinInt64(tp);
  const int64_t tp_max = w.world_->AllReduceMaxInt64(tp);
  if (tp_min != tp_max) {
    std::ostringstream os;
    os << "ranks disagree on --tp: values range from " << tp_min << " to " << tp_max
       << "; start every rank with the same --tp";
    throw AgreedError(__FILE__, __LINE__, os.str(), true);
  }
  const int world_size = w.world_->size(), world_rank = w.world_->rank();
  const std::string error = LayoutError(world_size, tp);
  if (!error.empty()) throw AgreedError(__FILE__, __LINE__, error, true);

  std::unique_ptr<MpiCommunicator> local = w.world_->SplitSharedMemory("local");
  w.config_ = MakeWorldConfig(world_rank, world_size, tp, local->rank(), local->size());
  const WorldConfig& c = w.config_;
  w.tp_group_ = w.world_->SplitMpi(/*color=*/c.dp_rank, /*key=*/c.tp_rank, "tp");
  w.dp_group_ = w.world_->SplitMpi(/*color=*/c.tp_rank, /*key=*/c.dp_rank, "dp");
  PG_CHECK(w.tp_group_->size() == c.tp && w.tp_group_->rank() == c.tp_rank,
           "tp group of " << c.ToString() << " came out as rank " << w.tp_group_->rank()
                          << " of " << w.tp_group_->size());
  PG_CHECK(w.dp_group_->size() == c.dp && w.dp_group_->rank() == c.dp_rank,
           "dp group of " << c.ToString() << " came out as rank " << w.dp_group_->rank()
                          << " of " << w.dp_group_->size());
  return w;
}

void World::SetCollectiveTimeout(double seconds) {
  world_->SetCollectiveTimeout(seconds);
  tp_group_->SetCollectiveTimeout(seconds);
  dp_group_->SetCollectiveTimeout(seconds);
}

int WorldSize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return 1;
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

}  // namespace pg
