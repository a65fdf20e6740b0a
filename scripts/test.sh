#!/usr/bin/env bash
# The whole test suite: installs packages, builds, runs ctest (unit tests, HF parity on
# committed fixtures, mpirun tensor/data-parallel tests, end-to-end caption tests, fault
# injection and the two-host netns run), then the fuzzers (fuzz/README.md): replay of every
# committed corpus and reproducer, and PG_FUZZ_BUDGET seconds (default 30) per target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
# The tests run on the CPU build (./build): it also builds the CUDA backend under the CPU
# emulation of the CUDA runtime (tests/cuda_emu), so its ops and the whole model are checked here,
# and (PG_EMU_SANITIZERS) again under ASan/UBSan: ctest label cuda_emu_asan, ~2 min more on 2 cores.
PG_WITH_CUDA=OFF PG_EMU_SANITIZERS=ON bash scripts/build.sh
# Where nvcc exists, the real CUDA build must compile and link too (nothing of it runs without a GPU).
if [ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null; then
  PG_BUILD_DIR=build-cuda PG_WITH_CUDA=ON bash scripts/build.sh --target pgcore paligemma cuda_backend_test \
      cuda_model_parity_test
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
(cd build && ctest --output-on-failure -j 2 --timeout 600)
bash scripts/fuzz.sh --budget "${PG_FUZZ_BUDGET:-30}"
