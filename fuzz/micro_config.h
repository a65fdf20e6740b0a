// The smallest ModelConfig that ModelConfig::Validate accepts with every kind of checkpoint
// dataset present (1 ViT layer, 1 decoder layer, width 4, vocab 8): its HDF5 checkpoint is a
// few KiB of weights, where configs/tiny.json's 1600x128 embedding alone is 800 KiB. Used by
// the checkpoint fuzz targets and make_seed_corpus.
#pragma once

#include "models/model_config.h"

namespace pg::fuzz {

inline ModelConfig MicroConfig() {
  ModelConfig c;
  c.name = "micro";
  c.vision.image_size = 4;
  c.vision.patch_size = 2;
  c.vision.width = 4;
  c.vision.depth = 1;
  c.vision.mlp_dim = 4;
  c.vision.num_heads = 1;
  c.text.width = 4;
  c.text.depth = 1;
  c.text.mlp_dim = 4;
  c.text.num_heads = 1;
  c.text.num_kv_heads = 1;
  c.text.head_dim = 2;
  c.text.vocab_size = 8;
  c.text.query_pre_attn_scalar = 2.f;
  c.max_seq_len = 16;
  c.Validate("micro fuzz config");
  return c;
}

}  // namespace pg::fuzz
