#include "engine/model_session.h"

#include "dist/error_agreement.h"
#include "models/weight_table.h"
#include "runtime/backend.h"
#include "tensor_parallel/device_data_plane.h"

namespace pg {

DType ResolveWeightDtype(const std::string& name, DType checkpoint_dtype, const char* flag) {
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  // auto: the checkpoint's own dtype (bf16 stays bf16: half the memory, and decode reads half the
  // bytes, on every CPU: native bf16 GEMMs or the widening kernels; docs/BENCHMARKS.md).
  if (name == "auto") return checkpoint_dtype;
  PG_THROW(flag << " must be auto, f32 or bf16, got '" << name << "'");
}

ModelOnRank LoadModelOnRank(const CheckpointReader& checkpoint, MpiCommunicator& tp_group, int tp_rank,
                            const SessionOptions& o, int device, const DataPlaneWrapper& wrap) {
  ModelOnRank m;
  BackendOptions bo;
  bo.threads = o.threads;
  bo.device = device;
  bo.weight_dtype = ResolveWeightDtype(o.weight_dtype, checkpoint.dtype());
  m.backend = MakeBackend(o.backend, bo);
  m.tp_device_comm = MakeDeviceDataPlane(tp_group, *m.backend, bo.device);
  Communicator* data_plane = m.tp_device_comm ? m.tp_device_comm.get() : &tp_group;
  if (wrap) m.tp_wrapper = wrap(*data_plane);
  if (m.tp_wrapper) data_plane = m.tp_wrapper.get();
  TpGroup tp;
  tp.size = tp_group.size();
  tp.rank = tp_rank;
  tp.comm = tp.size > 1 ? data_plane : nullptr;
  PaliGemmaLoadOptions lo;
  lo.load_vit = tp.rank == 0 || o.vit == VitPlacement::kSharded;
  m.model = std::make_unique<PaliGemma>(checkpoint, *m.backend, tp, lo);
  return m;
}

ModelSession ModelSession::Open(const SessionOptions& o) {
  ModelSession s;
  s.world = std::make_unique<World>(World::Create(o.tp));
  Communicator& all = s.world->world();
  AgreePhase(all, "open checkpoint", [&] {
    s.checkpoint = std::make_unique<CheckpointReader>(o.model_path);
    CheckTensorParallel(s.checkpoint->config(), o.tp);
  });
  AgreePhase(all, "load tokenizer", [&] {
    s.tokenizer = std::make_unique<Tokenizer>(Tokenizer::Load(o.tokenizer_path));
    s.tokenizer->Validate(s.checkpoint->config().text.vocab_size, o.model_path);
  });
  AgreePhase(all, "load weights", [&] {
    s.rank_model = LoadModelOnRank(*s.checkpoint, s.world->tp_group(), s.world->config().tp_rank, o,
                                   s.world->config().local_rank);
    s.model = s.rank_model.model.get();
  });
  return s;
}

}  // namespace pg
