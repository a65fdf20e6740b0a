#!/usr/bin/env bash
# Builds the CUDA configuration HERE (CUDA 13 toolkit under /usr/local/cuda compiles and links
# without a GPU) and packs what a GPU machine needs to run it into .device/bundle.tgz (ignored by
# git; pass `carry: [".device"]` to the device tool). The GPU machine has nvcc, CUDA's libraries
# and PyTorch's NCCL but no Open MPI, HDF5, sentencepiece or OpenBLAS: the bundle holds
#   bin/       paligemma and the test/bench executables of build-cuda
#   lib/       every shared library they load that is not glibc/libstdc++ or CUDA's own
#   openmpi/   Open MPI's files at their Debian paths (orterun, orted, plugins, help texts), to be
#              unpacked at / on the device (Open MPI finds its plugins by its build prefix /usr)
# On the device: `source scripts/device_env.sh` (unpacks the bundle, sets PATH/LD_LIBRARY_PATH).
# Untested on a device so far: no GPU was lent to the sessions that wrote it (see
# docs/CUDA_BACKEND.md "What a GPU session must run").
#   scripts/device_bundle.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
build="${PG_DEVICE_BUILD:-build-cuda}"
if [ "${1:-}" != "--no-build" ]; then
  PATH=/usr/local/cuda/bin:$PATH cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPG_WITH_CUDA=ON > /dev/null
  cmake --build "$build" -j "$(nproc)"
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/openmpi"

# Executables: the CLI and every test / bench program of the CUDA build.
cp "$build/paligemma" "$stage/bin/"
find "$build" -maxdepth 2 -type f -executable \( -name '*_test' -o -name '*_mpitest' -o -name 'bench_*' \) \
  -exec cp {} "$stage/bin/" \;

# Shared libraries: the ldd closure of the executables and of Open MPI's programs and plugins,
# minus glibc, libstdc++/libgcc (the device's are newer) and CUDA's (the device has its own).
ompi_plugins=$(dirname "$(dpkg -L libopenmpi3 | grep -m1 '/openmpi3/mca_.*\.so$')")
{
  for f in "$stage"/bin/* /usr/bin/orterun /usr/bin/orted "$ompi_plugins"/*.so; do ldd "$f" 2>/dev/null || true; done
} | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
  grep -Ev '/(ld-linux[^/]*|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libresolv)\.so' |
  grep -Ev '^/usr/local/cuda|/libcuda\.so|/libnvidia' > "$stage/libs.txt"
while read -r lib; do cp -L "$lib" "$stage/lib/"; done < "$stage/libs.txt"

# Open MPI at its Debian paths.
for pkg in openmpi-bin openmpi-common libopenmpi3; do
  dpkg -L "$pkg" | while read -r p; do
    [ -f "$p" ] || continue
    case "$p" in /usr/share/doc/*|/usr/share/man/*) continue ;; esac
    mkdir -p "$stage/openmpi$(dirname "$p")"
    cp -a "$p" "$stage/openmpi$p"
  done
done
ln -sf orterun "$stage/openmpi/usr/bin/mpirun"

mkdir -p .device
tar -C "$stage" -czf .device/bundle.tgz bin lib openmpi
size=$(stat -c %s .device/bundle.tgz)
echo "device_bundle: .device/bundle.tgz $((size / 1048576)) MiB: $(ls "$stage/bin" | wc -l) executables," \
     "$(wc -l < "$stage/libs.txt") libraries, Open MPI from $ompi_plugins"
[ "$size" -lt $((48 * 1048576)) ] ||
  echo "device_bundle: WARNING: over 48 MiB; the device tool carries 64 MiB with the working tree" >&2
