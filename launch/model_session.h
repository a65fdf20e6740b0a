// ModelSession: what every model-running subcommand sets up, in order, with errors agreed
// across ranks at each phase: the [dp, tp] world, the backend, the checkpoint (this rank's
// shard), the tokenizer, and the model (ViT only where it runs). With --backend cuda and tp > 1
// the model's all-reduces go over NCCL on the backend's stream; host-side control messages
// (image tokens, admissions) stay on MPI.
#pragma once

#include <memory>
#include <string>

#include "dist/world.h"
#include "io/tokenizer.h"
#include "models/checkpoint_reader.h"
#include "models/paligemma.h"
#include "tensor_parallel/image_token_broadcast.h"

namespace pg {

struct SessionOptions {
  std::string model_path;
  std::string tokenizer_path;
  std::string backend = "cpu";
  int tp = 1;
  int threads = 1;
  VitPlacement vit = VitPlacement::kLeader;
};

struct ModelSession {
  std::unique_ptr<World> world;
  std::unique_ptr<Backend> backend;
  // The tp group's data plane when the backend's buffers live on a GPU and tp > 1
  // (tensor_parallel/device_data_plane.h). Null otherwise: the model then all-reduces over
  // world->tp_group() (MPI, host buffers). Declared after `backend`, so destroyed before it.
  std::unique_ptr<Communicator> tp_device_comm;
  std::unique_ptr<CheckpointReader> checkpoint;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<PaliGemma> model;

  static ModelSession Open(const SessionOptions& options);
  bool is_world_leader() const { return world->config().world_rank == 0; }
};

}  // namespace pg
