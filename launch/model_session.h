// ModelSession: what every model-running subcommand sets up, in order, with errors agreed
// across ranks at each phase: the [dp, tp] world, the backend, the checkpoint (this rank's
// shard), the tokenizer, and the model (ViT only where it runs).
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
  std::unique_ptr<CheckpointReader> checkpoint;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<PaliGemma> model;

  static ModelSession Open(const SessionOptions& options);
  bool is_world_leader() const { return world->config().world_rank == 0; }
};

}  // namespace pg
