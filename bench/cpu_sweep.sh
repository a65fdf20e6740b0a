#!/usr/bin/env bash
# The CPU measurements of docs/BENCHMARKS.md, on whatever machine runs it:
#   bash bench/cpu_sweep.sh [BUILD_DIR] [OUT_ROOT] [REPEATS] [tiny|mid|all] [session|setsid]
# tiny: configs/tiny.json, ranks 1,2,4 x tp 1,2,4, batch 1 and 8, 16 images (strong) and
#       4 per rank (weak), 20 new tokens;
# mid:  configs/mid.json (random bf16 weights), ranks 1,2,4 x tp 1,2,4, batch 4, 4 images
#       (strong) and 1 per rank (weak), 20 new tokens.
# Each sweep is one `mpirun -np 4` (layouts with fewer ranks leave the others idle), repeated
# REPEATS times with --append; the load average is logged around every run. Then the plots.
#
# session (default): every rank in this shell's session. With the kernel's sched_autogroup on
#   (/proc/sys/kernel/sched_autogroup_enabled = 1, Debian's default) all processes of a session
#   share ONE fair share of the CPU, so on a machine busy with other sessions more ranks do not
#   get more CPU (see cores_used in bench.csv).
# setsid: each rank runs under `setsid -w`, its own session and autogroup, so each rank competes
#   for the CPU like a separate program (what ranks on separate cores or hosts would see).
# Results go to OUT_ROOT/cpu-<model>-<mode>/.
set -euo pipefail
build=${1:-build}
root=${2:-docs/bench}
repeats=${3:-2}
which=${4:-all}
mode=${5:-session}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpirun_=(mpirun -np 4 --oversubscribe --bind-to none)
bin=$build/paligemma
launch=("$bin")
if [ "$mode" = setsid ]; then launch=(setsid -w "$bin"); fi
log() { echo "[$(date -u +%FT%TZ)] load: $(cut -d' ' -f1-3 /proc/loadavg) | $*"; }

run() {  # run OUT_DIR ARGS...
  local out=$1; shift
  for i in $(seq 1 "$repeats"); do
    log "start $out repeat $i"
    "${mpirun_[@]}" "${launch[@]}" bench --append --out "$out" "$@"
    log "end $out repeat $i"
  done
  python3 bench/plot.py "$out"
}

if [ "$which" = tiny ] || [ "$which" = all ]; then
  rm -rf "$root/cpu-tiny-$mode"
  run "$root/cpu-tiny-$mode" --config configs/tiny.json --ranks 1,2,4 --tp 1,2,4 --batch 1,8 --images 16 \
      --scaling strong --new-tokens 20 --warmup 1 --iters 5
  run "$root/cpu-tiny-$mode" --config configs/tiny.json --ranks 1,2,4 --tp 1,2,4 --batch 1,8 --images 4 \
      --scaling weak --new-tokens 20 --warmup 1 --iters 5
fi
if [ "$which" = mid ] || [ "$which" = all ]; then
  model=${PG_BENCH_MID_MODEL:-/tmp/pg-bench/mid-bf16.h5}
  if [ ! -f "$model" ]; then
    mkdir -p "$(dirname "$model")"
    "$bin" convert --random --config configs/mid.json --dtype bf16 --seed 0 --output "$model"
  fi
  rm -rf "$root/cpu-mid-$mode"
  run "$root/cpu-mid-$mode" --model "$model" --ranks 1,2,4 --tp 1,2,4 --batch 4 --images 4 --scaling strong \
      --new-tokens 20 --warmup 1 --iters 2
  run "$root/cpu-mid-$mode" --model "$model" --ranks 1,2,4 --tp 1,2,4 --batch 4 --images 1 --scaling weak \
      --new-tokens 20 --warmup 1 --iters 2
fi
