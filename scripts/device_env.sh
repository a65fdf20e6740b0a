# Source on the GPU machine, in the repository root, after carrying .device
# (scripts/device_bundle.sh made .device/bundle.tgz here):
#   source scripts/device_env.sh
# - unpacks the bundle to /opt/pg (executables, the Debian libraries they need) and Open MPI's
#   files at their Debian paths (only paths Open MPI owns);
# - finds CUDA's libraries: /usr/local/cuda, then the CUDA-13 Python wheels (`nvidia` is a
#   namespace package: nvidia/nccl/lib, nvidia/cu13/lib for cuBLAS), then a `find`;
# - puts the bundle's libraries on LD_LIBRARY_PATH ONLY for the bundle's programs: PATH gets
#   /opt/pg/wrap, one wrapper per program (and mpirun) that sets PG_LD_LIBRARY_PATH; the shell's
#   own LD_LIBRARY_PATH is untouched, so the device's python3 / torch keep their libraries.
#   Other tools (compute-sanitizer) run a bundle program with: pg_env compute-sanitizer ... prog
# - PG_HOME / PG_SOURCE_DIR = this checkout (assets/, test fixtures), and /work/main -> this
#   checkout when absent (the test programs were built there and read fixtures by that path).
# Sourced: no `set -e`, never exits the caller's shell; prints what it found and sets
# PG_ENV_OK=1 when the programs resolve every library.
_pg_root="$PWD"
PG_ENV_OK=0
if [ ! -f "$_pg_root/.device/bundle.tgz" ]; then
  echo "device_env: no $_pg_root/.device/bundle.tgz (run scripts/device_bundle.sh here and carry .device)" >&2
  return 1 2>/dev/null || exit 1
fi
mkdir -p /opt/pg
if [ ! -f /opt/pg/.unpacked ] || [ "$_pg_root/.device/bundle.tgz" -nt /opt/pg/.unpacked ]; then
  tar -C /opt/pg -xzf "$_pg_root/.device/bundle.tgz" && touch /opt/pg/.unpacked
  cp -a /opt/pg/openmpi/. / 2>/dev/null || echo "device_env: could not copy Open MPI to / (not root?)" >&2
fi

# CUDA libraries: cudart, cuBLAS/cuBLASLt 13, NCCL 2.
_pg_cuda_dirs=""
_pg_add_dir() { [ -n "$1" ] && [ -d "$1" ] && case ":$_pg_cuda_dirs:" in *":$1:"*) ;; *) _pg_cuda_dirs="${_pg_cuda_dirs:+$_pg_cuda_dirs:}$1" ;; esac; }
_pg_find_lib() {  # name -> directory holding it, or empty
  for d in $(echo "$_pg_cuda_dirs" | tr ':' ' '); do [ -e "$d/$1" ] && { echo "$d"; return; }; done
  _pg_f=$(find /usr/local /usr/lib /opt /root /home -name "$1" 2>/dev/null | grep -v '^/opt/pg/' | head -1)
  [ -n "$_pg_f" ] && dirname "$_pg_f"
}
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do _pg_add_dir "$d"; done
_pg_nv=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])" 2>/dev/null)
if [ -n "$_pg_nv" ]; then
  for d in "$_pg_nv"/nccl/lib "$_pg_nv"/cu13/lib "$_pg_nv"/cublas/lib "$_pg_nv"/cuda_runtime/lib; do _pg_add_dir "$d"; done
fi
_pg_nccl=$(_pg_find_lib libnccl.so.2)
_pg_cublas=$(_pg_find_lib libcublas.so.13)
_pg_cudart=$(_pg_find_lib libcudart.so.13)
for d in "$_pg_nccl" "$_pg_cublas" "$_pg_cudart"; do _pg_add_dir "$d"; done

export PG_LD_LIBRARY_PATH="/opt/pg/lib:${_pg_cuda_dirs}"
export PG_HOME="$_pg_root" PG_SOURCE_DIR="$_pg_root"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
if [ "$_pg_root" != /work/main ] && [ ! -e /work/main ]; then mkdir -p /work && ln -s "$_pg_root" /work/main; fi

# Wrappers: the bundle's programs (and mpirun) with the bundle's libraries, nothing else.
mkdir -p /opt/pg/wrap
for _pg_p in /opt/pg/bin/*; do
  [ -x "$_pg_p" ] || continue
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' \
    "$PG_LD_LIBRARY_PATH" "$_pg_p" > "/opt/pg/wrap/$(basename "$_pg_p")"
done
if [ -x /usr/bin/orterun ]; then
  for _pg_p in mpirun mpiexec orterun; do
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec /usr/bin/orterun "$@"\n' \
      "$PG_LD_LIBRARY_PATH" > "/opt/pg/wrap/$_pg_p"
  done
fi
chmod +x /opt/pg/wrap/* 2>/dev/null
case ":$PATH:" in *":/opt/pg/wrap:"*) ;; *) export PATH="/opt/pg/wrap:$PATH" ;; esac
pg_env() { LD_LIBRARY_PATH="$PG_LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }

echo "device_env: checkout $_pg_root; nccl=${_pg_nccl:-NOT FOUND} cublas=${_pg_cublas:-NOT FOUND} cudart=${_pg_cudart:-NOT FOUND}"
_pg_missing=$(LD_LIBRARY_PATH="$PG_LD_LIBRARY_PATH" ldd /opt/pg/bin/paligemma 2>&1 | grep 'not found')
if [ -n "$_pg_missing" ]; then
  echo "device_env: paligemma is MISSING libraries:" >&2
  echo "$_pg_missing" >&2
else
  echo "device_env: paligemma resolves all libraries"
  PG_ENV_OK=1
fi
mpirun --version 2>/dev/null | head -1
unset _pg_p _pg_f _pg_nv _pg_missing
true
