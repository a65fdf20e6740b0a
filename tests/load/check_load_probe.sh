#!/usr/bin/env bash
# See tests.cmake: runs `paligemma load --tp 2` on the converted demo model with f32 weights and
# checks its per-rank report against `paligemma inspect --tp 2` (parameters per rank x 4 bytes).
set -euo pipefail
mpirun=$1 bin=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" convert --from hf --input "$src/assets/demo_model" --output "$work/demo.h5" >/dev/null
"$bin" inspect --model "$work/demo.h5" --tp 2 >"$work/inspect.txt"
timeout 120 "$mpirun" --oversubscribe --bind-to none -np 2 "$bin" load --tp 2 --model "$work/demo.h5" --dtype f32 \
  >"$work/load.txt" 2>"$work/log" || { cat "$work/log" "$work/load.txt"; exit 1; }
cat "$work/load.txt"
[ "$(grep -c '^load rank=' "$work/load.txt")" -eq 2 ] || { echo "expected one line per rank"; exit 1; }
# inspect's "leader" / "follower" rows: the total parameters is the 5th field.
params() { awk -v who="$1" '$1 == who && $5 ~ /^[0-9]+$/ { print $5; exit }' "$work/inspect.txt"; }
lead=$(params leader) follow=$(params follower)
[ -n "$lead" ] && [ -n "$follow" ] || { echo "cannot read inspect's per-rank parameters"; cat "$work/inspect.txt"; exit 1; }
# weight_bytes per rank from `load` must be inspect's parameter count x 4 bytes exactly.
got() { sed -n "s/^load rank=$1 .* weight_bytes=\([0-9]*\) .*/\1/p" "$work/load.txt"; }
check() {
  echo "$1: load reports $2 bytes, inspect $3 parameters"
  [ -n "$2" ] && [ "$2" -eq $(($3 * 4)) ]
}
check "rank 0 (leader)" "$(got 0)" "$lead"
check "rank 1 (follower)" "$(got 1)" "$follow"
awk -v a="$(got 0)" -v b="$(got 1)" 'BEGIN { exit !(a > b) }' || { echo "the leader must hold the ViT on top"; exit 1; }
