# Source on the GPU machine, in the repository root, after carrying .device
# (scripts/device_bundle.sh made .device/bundle.tgz here):
#   source scripts/device_env.sh
# Unpacks the bundle to /opt/pg (executables, libraries) and Open MPI's files at their Debian
# paths under /usr (only paths Open MPI owns), points the loader at the bundle, at CUDA's own
# libraries and at PyTorch's NCCL, and links /work/main to this checkout so that the test
# programs find tests/fixtures at the path they were built with. Prints what it found.
set -e
_pg_root="$PWD"
mkdir -p /opt/pg
tar -C /opt/pg -xzf "$_pg_root/.device/bundle.tgz"
cp -a /opt/pg/openmpi/. /
_pg_nccl=$(python3 -c "import nvidia.nccl, os; print(os.path.join(os.path.dirname(nvidia.nccl.__file__), 'lib'))" 2>/dev/null || true)
_pg_cublas=$(python3 -c "import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), 'lib'))" 2>/dev/null || true)
export LD_LIBRARY_PATH="/opt/pg/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${_pg_cublas}:${_pg_nccl}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="/opt/pg/bin:$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
if [ "$_pg_root" != /work/main ] && [ ! -e /work/main ]; then mkdir -p /work && ln -s "$_pg_root" /work/main; fi
echo "device_env: nccl=${_pg_nccl:-none} cublas=${_pg_cublas:-none}"
ldd /opt/pg/bin/paligemma | grep 'not found' && echo "device_env: MISSING libraries above" || echo "device_env: paligemma resolves all libraries"
mpirun --version | head -1
set +e
