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
      libwebp-dev libgif-dev libtiff-dev libheif-dev  # io/{webp,gif,tiff,heif}_decode.cc (libheif: HEVC via libde265, AV1 via dav1d/aom)
      libarchive-dev  # tar shards (caption --shards)
      nlohmann-json3-dev libcli11-dev
      libgtest-dev libbenchmark-dev
      gnuplot-nox
      slurm-wlm munge  # tests/slurm: a real slurmctld + slurmd + munged started by each test
      clang libclang-rt-14-dev libomp-dev)  # scripts/fuzz.sh: clang + libclang_rt.fuzzer / asan / ubsan, OpenMP for clang
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
