#include "launch/model_session.h"

#include "dist/error_agreement.h"
#include "models/weight_table.h"
#include "runtime/backend.h"
#include "tensor_parallel/device_data_plane.h"

namespace pg {

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
    BackendOptions bo;
    bo.threads = o.threads;
    bo.device = s.world->config().local_rank;
    s.backend = MakeBackend(o.backend, bo);
    TpGroup tp;
    tp.comm = &s.world->tp_group();
    s.tp_device_comm = MakeDeviceDataPlane(s.world->tp_group(), *s.backend, bo.device);
    if (s.tp_device_comm) tp.comm = s.tp_device_comm.get();
    tp.rank = s.world->config().tp_rank;
    tp.size = s.world->config().tp;
    PaliGemmaLoadOptions lo;
    lo.load_vit = tp.rank == 0 || o.vit == VitPlacement::kSharded;
    s.model = std::make_unique<PaliGemma>(*s.checkpoint, *s.backend, tp, lo);
  });
  return s;
}

}  // namespace pg
