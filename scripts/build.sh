#!/usr/bin/env bash
# Configures and builds into ./build (or $PG_BUILD_DIR): the CPU backend always; the real CUDA
# backend when nvcc is found, unless PG_WITH_CUDA=OFF is set in the environment (then the CUDA
# backend is built only under the CPU emulation of tests/cuda_emu, for its tests).
# Extra arguments go to `cmake --build` (e.g. --target paligemma).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${PG_BUILD_DIR:-build}
args=(-DCMAKE_BUILD_TYPE=Release)
[ -n "${PG_WITH_CUDA:-}" ] && args+=(-DPG_WITH_CUDA="${PG_WITH_CUDA}")
# PG_EMU_SANITIZERS=ON: also the emulated CUDA tests under ASan/UBSan (tests/cuda_emu/tests.cmake).
[ -n "${PG_EMU_SANITIZERS:-}" ] && args+=(-DPG_EMU_SANITIZERS="${PG_EMU_SANITIZERS}")
# nvcc is under /usr/local/cuda on these machines but not always on PATH.
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)" "$@"
