#include "models/weight_loader.h"

#include <algorithm>

namespace pg {

WeightLoader::WeightLoader(const CheckpointReader& reader, Backend& backend, int tp_rank, int tp_size, int threads)
    : reader_(reader),
      backend_(backend),
      table_(WeightTable(reader.config())),
      tp_rank_(tp_rank),
      tp_size_(tp_size),
      threads_(std::max(1, threads)) {}

Tensor WeightLoader::Stage(const std::string& tag, std::vector<int64_t> shape) {
  return backend_.StageWeight(tag, std::move(shape));
}

Tensor WeightLoader::Finish(Tensor staged) {
  Tensor held = backend_.FinishWeight(std::move(staged));
  bytes_loaded_ += held.bytes();  // as the backend holds it (a CUDA bf16 matrix: 2 bytes each)
  return held;
}

void WeightLoader::ReadColumns(const std::string& name, const Slab& slab, Tensor& dst, int64_t col0) {
  const int64_t width = dst.dim(-1), rows = width == 0 ? 0 : dst.numel() / width;
  const int64_t n = CheckedNumElements(slab.count, "weight '" + name + "'");
  PG_CHECK(rows > 0 && n % rows == 0 && col0 >= 0 && col0 + n / rows <= width,
           "weight '" << name << "': a slab " << ShapeStr(slab.count) << " does not fill columns from " << col0
                      << " of '" << dst.name << "' " << ShapeStr(dst.shape));
  const size_t elem = DTypeSize(dst.dtype);
  reader_.ReadInto(name, slab, {static_cast<char*>(dst.data) + col0 * elem, dst.dtype, rows, width}, threads_);
}

Tensor WeightLoader::ReadWhole(const std::string& name, const Slab& slab, std::vector<int64_t> shape,
                               const std::string& tag) {
  Tensor t = Stage(tag, std::move(shape));
  const int64_t n = CheckedNumElements(slab.count, "weight '" + name + "'");
  PG_CHECK(t.numel() == n, "weight '" << name << "' in " << reader_.path() << ": slab " << ShapeStr(slab.count)
                                      << " has " << n << " values on this rank; the layer expects "
                                      << ShapeStr(t.shape));
  reader_.ReadInto(name, slab, {t.data, t.dtype, 1, 0}, threads_);
  return Finish(std::move(t));
}

Tensor WeightLoader::Whole(const std::string& name, std::vector<int64_t> shape) {
  return ReadWhole(name, WholeSlab(FindWeight(table_, name)), std::move(shape), name);
}

Slab WeightLoader::LayerSlab(const std::string& name, int layer, bool sharded) const {
  const WeightSpec& spec = FindWeight(table_, name);
  Slab slab = sharded ? ShardSlab(spec, tp_rank_, tp_size_, reader_.config().name) : ShardSlab(spec, 0, 1, "");
  PG_CHECK(!spec.shape.empty() && layer >= 0 && layer < spec.shape[0],
           "weight '" << name << "': layer " << layer << " outside " << ShapeStr(spec.shape));
  slab.start[0] = layer;
  slab.count[0] = 1;
  return slab;
}

Tensor WeightLoader::Layer(const std::string& name, int layer, bool sharded, std::vector<int64_t> shape,
                           const std::string& tag) {
  return ReadWhole(name, LayerSlab(name, layer, sharded), std::move(shape), tag);
}

Tensor WeightLoader::Rows(const std::string& name, std::vector<int64_t> shape, int64_t* row_offset) {
  const WeightSpec& spec = FindWeight(table_, name);
  const Slab slab = ShardSlab(spec, tp_rank_, tp_size_, reader_.config().name);
  *row_offset = slab.start[0];
  return ReadWhole(name, slab, std::move(shape), name);
}

}  // namespace pg
