#!/usr/bin/env bash
# Load time and peak resident set per rank against the weight bytes each rank holds (issues 14
# and 15: "peak RSS <= 1.15x the weight bytes"), for one checkpoint and several layouts, with
# `paligemma load` (engine/load_probe.h): one fresh mpirun per layout, one line per rank.
#
#   scripts/load_memory.sh MODEL.h5 [NP:TP:DTYPE ...]     (default: 1:1:bf16 1:1:f32)
#   e.g. scripts/load_memory.sh /tmp/3b-bf16.h5 1:1:bf16 1:1:f32 2:2:bf16
# Env: PG_BIN (default build/paligemma), THREADS (default 2).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 MODEL.h5 [NP:TP:DTYPE ...]" >&2; exit 2; }
model=$1
shift
layouts=("$@")
[ ${#layouts[@]} -gt 0 ] || layouts=(1:1:bf16 1:1:f32)
bin=${PG_BIN:-$(dirname "$0")/../build/paligemma}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
for l in "${layouts[@]}"; do
  IFS=: read -r np tp dtype <<<"$l"
  echo "# $model np=$np tp=$tp dtype=$dtype load1=$(cut -d' ' -f1 /proc/loadavg)"
  mpirun --oversubscribe --bind-to none -np "$np" "$bin" load --model "$model" --tp "$tp" --dtype "$dtype" \
    --threads "${THREADS:-2}" | grep '^load '
done
