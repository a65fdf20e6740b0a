#!/usr/bin/env bash
# Configures and builds into ./build (CPU backend always; CUDA when nvcc is found, unless
# PG_WITH_CUDA=OFF is set in the environment).
set -euo pipefail
cd "$(dirname "$0")/.."
args=(-DCMAKE_BUILD_TYPE=Release)
[ -n "${PG_WITH_CUDA:-}" ] && args+=(-DPG_WITH_CUDA="${PG_WITH_CUDA}")
# nvcc is under /usr/local/cuda on these machines but not always on PATH.
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
cmake -S . -B build "${args[@]}" >/dev/null
cmake --build build -j "$(nproc)"
