// HfTensorMap (declared in convert/hf_import.h): every HF PaliGemma tensor name -> the slab of the
// big_vision dataset it fills and the transform. The names, shapes and transforms are the
// weight table's HF sources (models/weight_table.cc); this file only expands stacked
// datasets per layer and turns each source into a hyperslab.
#include <string>

#include "convert/hf_import.h"
#include "models/weight_table.h"
#include "runtime/check.h"

namespace pg {
namespace {

// The slab of `s` that `h` fills: layer `layer` of a stacked dataset (layer < 0: the whole
// dataset), and index h.part of axis 1 when the source is one of k|v or gate|up.
HfTensorTarget TargetOf(const WeightSpec& s, const HfSource& h, int64_t layer) {
  HfTensorTarget t;
  t.dataset = s.name;
  t.start.assign(s.shape.size(), 0);
  t.count = s.shape;
  if (layer >= 0) {
    t.start[0] = layer;
    t.count[0] = 1;
  }
  if (h.part >= 0) {
    t.start[1] = h.part;
    t.count[1] = 1;
  }
  t.hf_shape = h.shape;
  t.transform = h.transform;
  t.extra_rows_ok = h.extra_rows_ok;
  t.head_dim = h.head_dim;
  if (h.transform == HfTransform::kTranspose || h.transform == HfTransform::kHeadsToGDH) {
    t.rows = h.shape.at(0);
    t.cols = h.shape.at(1);
  }
  return t;
}

}  // namespace

std::map<std::string, HfTensorTarget> HfTensorMap(const ModelConfig& c) {
  std::map<std::string, HfTensorTarget> map;
  for (const WeightSpec& s : WeightTable(c))
    for (const HfSource& h : s.hf) {
      const int64_t layers = s.stacked ? s.shape.at(0) : 1;
      for (int64_t l = 0; l < layers; ++l) {
        const std::string name = HfLayerName(h.hub_name, l);
        PG_CHECK(!map.count(name), "weight table: HF tensor '" << name << "' fills both '" << map.at(name).dataset
                                                                << "' and '" << s.name << "'");
        map[name] = TargetOf(s, h, s.stacked ? l : -1);
      }
    }
  return map;
}

}  // namespace pg
