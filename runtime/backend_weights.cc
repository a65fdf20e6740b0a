// The default in-place weight path of Backend (backend.h): stage the values as f32 in host
// memory, then UploadWeight them (the backend converts and copies as it always does).
#include <memory>

#include "runtime/backend.h"

namespace pg {

Tensor Backend::StageWeight(const std::string& name, std::vector<int64_t> shape) {
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.dtype = DType::kF32;
  t.device = Device::kCpu;
  const int64_t n = CheckedNumElements(t.shape, "weight '" + name + "'");
  std::shared_ptr<float> buf(new float[static_cast<size_t>(std::max<int64_t>(n, 1))], std::default_delete<float[]>());
  t.data = buf.get();
  t.storage = buf;
  return t;
}

Tensor Backend::FinishWeight(Tensor staged) {
  PG_CHECK(staged.dtype == DType::kF32 && staged.device == Device::kCpu,
           "FinishWeight: '" << staged.name << "' was not staged by Backend::StageWeight");
  return UploadWeight(staged.name, staged.shape, staged.f32());
}

}  // namespace pg
