#!/usr/bin/env bash
# Runs COMMAND (an `mpirun ... paligemma ...`) and samples the memory of each of its MPI ranks
# (the descendant processes whose environment has OMPI_COMM_WORLD_RANK or PMI_RANK) every
# INTERVAL seconds from /proc/PID/status. Prints one line per sample to stderr
# ("rss t=12.0 rank=1 VmRSS=5210.3MiB VmHWM=5301.2MiB") and, when COMMAND exits, per rank the
# largest VmRSS sampled and the last VmHWM seen (the kernel's peak resident set). Exits with
# COMMAND's status. Used for "Weight placement: inspect vs measured RSS" in docs/BENCHMARKS.md.
#
#   scripts/rank_rss.sh [-i SECONDS] -- mpirun -np 2 build/paligemma bench --model M.h5 ...
set -u
interval=1
if [ "${1:-}" = "-i" ]; then interval=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 [-i SECONDS] -- COMMAND..." >&2; exit 2; }

"$@" &
root=$!
declare -A max_rss hwm
start=$(date +%s.%N)

descendants() {  # every process below $1
  local kids
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

kib() { awk -v k="$1" 'BEGIN { printf "%.1fMiB", k / 1024 }'; }

while kill -0 "$root" 2>/dev/null; do
  t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')
  for pid in $(descendants "$root"); do
    rank=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^\(OMPI_COMM_WORLD_RANK\|PMI_RANK\)=//p' | head -1)
    [ -n "$rank" ] || continue
    read -r rss peak < <(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r + 0, h + 0 }' \
      "/proc/$pid/status" 2>/dev/null) || continue
    [ "${rss:-0}" -gt 0 ] || continue
    echo "rss t=$t rank=$rank VmRSS=$(kib "$rss") VmHWM=$(kib "$peak")" >&2
    [ "$rss" -gt "${max_rss[$rank]:-0}" ] && max_rss[$rank]=$rss
    hwm[$rank]=$peak
  done
  sleep "$interval"
done
wait "$root"
rc=$?
for rank in $(printf '%s\n' "${!max_rss[@]}" | sort -n); do
  echo "rank $rank: max VmRSS sampled $(kib "${max_rss[$rank]}"), VmHWM $(kib "${hwm[$rank]}")"
done
exit "$rc"
