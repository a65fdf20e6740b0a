// ModelSession: what every model-running subcommand sets up, in order, with errors agreed
// across ranks at each phase: the [dp, tp] world, the backend, the checkpoint (this rank's
// shard), the tokenizer, and the model (ViT only where it runs). With --backend cuda and tp > 1
// the model's all-reduces go over NCCL on the backend's stream; host-side control messages
// (image tokens, admissions) stay on MPI. `paligemma bench` builds its models per layout with
// the same LoadModelOnRank.
#pragma once

#include <functional>
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
  // --dtype: how the CPU backend holds weight matrices: "f32", "bf16" (oneDNN bf16 GEMMs, fp32
  // accumulation) or "auto": bf16 when the checkpoint is stored in bf16 and the CPU has native
  // bf16 dot products, else f32 (as vLLM's dtype "auto" follows the checkpoint).
  std::string weight_dtype = "auto";
};

// "auto" | "f32" | "bf16" for a checkpoint stored as `checkpoint_dtype` -> the weights' DType;
// throws naming `flag` for anything else.
DType ResolveWeightDtype(const std::string& name, DType checkpoint_dtype, const char* flag = "--dtype");

// One rank's model of a tensor-parallel group: its backend, the group's data plane and the
// weights it holds. Members are destroyed in reverse order: the model before the backend.
struct ModelOnRank {
  std::unique_ptr<Backend> backend;
  // The tp group's data plane when the backend's buffers live on a GPU and tp > 1
  // (tensor_parallel/device_data_plane.h). Null otherwise: the model then all-reduces over the
  // tp group's MPI communicator (host buffers).
  std::unique_ptr<Communicator> tp_device_comm;
  std::unique_ptr<Communicator> tp_wrapper;  // what `wrap` made of the data plane, if anything
  std::unique_ptr<PaliGemma> model;
};

// Wraps the tp data plane (bench: a TimedCommunicator); returns null to use it as it is.
using DataPlaneWrapper = std::function<std::unique_ptr<Communicator>(Communicator& data_plane)>;

// Builds this rank's backend (device = `device`), tp data plane and model from `checkpoint`:
// the decoder shard of tp rank `tp_rank` of `tp_group`, the ViT where `vit` places it.
ModelOnRank LoadModelOnRank(const CheckpointReader& checkpoint, MpiCommunicator& tp_group, int tp_rank,
                            const SessionOptions& options, int device, const DataPlaneWrapper& wrap = {});

struct ModelSession {
  std::unique_ptr<World> world;
  std::unique_ptr<CheckpointReader> checkpoint;
  std::unique_ptr<Tokenizer> tokenizer;
  ModelOnRank rank_model;  // backend, data plane, weights
  PaliGemma* model = nullptr;  // rank_model.model

  static ModelSession Open(const SessionOptions& options);
  bool is_world_leader() const { return world->config().world_rank == 0; }
};

}  // namespace pg
