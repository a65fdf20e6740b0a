#include "models/weight_loader.h"

namespace pg {

WeightLoader::WeightLoader(const CheckpointReader& reader, Backend& backend, int tp_rank, int tp_size)
    : reader_(reader), backend_(backend), table_(WeightTable(reader.config())), tp_rank_(tp_rank), tp_size_(tp_size) {}

Tensor WeightLoader::Whole(const std::string& name, std::vector<int64_t> shape) {
  std::vector<float> host = reader_.ReadF32(name);
  bytes_loaded_ += host.size() * sizeof(float);
  Tensor t;
  t.shape = std::move(shape);
  PG_CHECK(t.numel() == static_cast<int64_t>(host.size()), "weight '" << name << "' in " << reader_.path() << " has "
                                                                      << host.size() << " values; layer expects "
                                                                      << ShapeStr(t.shape));
  return backend_.UploadWeight(name, t.shape, host.data());
}

std::vector<float> WeightLoader::LayerHost(const std::string& name, int layer, bool sharded,
                                           std::vector<int64_t>* count) {
  const WeightSpec& spec = FindWeight(table_, name);
  Slab slab = sharded ? ShardSlab(spec, tp_rank_, tp_size_, reader_.config().name) : ShardSlab(spec, 0, 1, "");
  PG_CHECK(!spec.shape.empty() && layer >= 0 && layer < spec.shape[0],
           "weight '" << name << "': layer " << layer << " outside " << ShapeStr(spec.shape));
  slab.start[0] = layer;
  slab.count[0] = 1;
  if (count) *count = slab.count;
  std::vector<float> host = reader_.ReadF32(name, slab);
  bytes_loaded_ += host.size() * sizeof(float);
  return host;
}

Tensor WeightLoader::Layer(const std::string& name, int layer, bool sharded, std::vector<int64_t> shape,
                           const std::string& tag) {
  std::vector<float> host = LayerHost(name, layer, sharded, nullptr);
  Tensor t;
  t.shape = shape;
  PG_CHECK(t.numel() == static_cast<int64_t>(host.size()), "weight '" << name << "' layer " << layer << " has "
                                                                      << host.size() << " values on this rank; expected "
                                                                      << ShapeStr(shape));
  return backend_.UploadWeight(tag, std::move(shape), host.data());
}

Tensor WeightLoader::Rows(const std::string& name, std::vector<int64_t> shape, int64_t* row_offset) {
  const WeightSpec& spec = FindWeight(table_, name);
  const Slab slab = ShardSlab(spec, tp_rank_, tp_size_, reader_.config().name);
  *row_offset = slab.start[0];
  std::vector<float> host = reader_.ReadF32(name, slab);
  bytes_loaded_ += host.size() * sizeof(float);
  return backend_.UploadWeight(name, std::move(shape), host.data());
}

}  // namespace pg
