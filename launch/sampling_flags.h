// Sampling flags shared by generate and caption.
#pragma once

#include <CLI/CLI.hpp>

#include "models/sampler.h"

namespace pg {

inline void AddSamplingFlags(CLI::App* cmd, SamplingParams* p) {
  cmd->add_option("--temperature", p->temperature, "0 = greedy (default)");
  cmd->add_option("--top-k", p->top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", p->top_p, "nucleus sampling mass (1 = off)");
  cmd->add_option("--seed", p->seed, "random seed (same seed, same output on every rank and run)");
}

}  // namespace pg
