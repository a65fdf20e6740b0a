#!/usr/bin/env bash
# Installs the Debian 12 packages paligemma-tp builds and tests with.
# CUDA, cuBLAS and NCCL are not from Debian: they are found under /usr/local/cuda when present.
set -euo pipefail
PKGS=(build-essential cmake pkg-config git
      libopenmpi-dev openmpi-bin
      libhdf5-dev hdf5-tools
      libsentencepiece-dev sentencepiece
      libopenblas-dev libdnnl-dev
      libjpeg62-turbo-dev libpng-dev zlib1g-dev
      libarchive-dev  # tar shards (caption --shards)
      nlohmann-json3-dev libcli11-dev
      libgtest-dev libbenchmark-dev
      gnuplot-nox
      clang libclang-rt-14-dev libomp-dev)  # scripts/fuzz.sh: clang + libclang_rt.fuzzer / asan / ubsan, OpenMP for clang
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
