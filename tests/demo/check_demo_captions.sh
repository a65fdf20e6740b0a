#!/usr/bin/env bash
# The embedded demo says something true: the shipped demo model (assets/demo_model), converted
# with `paligemma convert`, captions every sample image in assets/images exactly as
# assets/images/labels.txt describes it (greedy, "caption en", 2 tensor-parallel ranks).
set -euo pipefail
mpirun=$1 bin=$2 src=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" convert --from hf --input "$src/assets/demo_model" --output "$work/demo.h5" >/dev/null
timeout 120 "$mpirun" --oversubscribe --bind-to none -np 2 "$bin" caption --tp 2 --model "$work/demo.h5" \
  --tokenizer "$src/assets/tokenizer/tiny.model" --images "$src/assets/images" --prompt "caption en" \
  --output "$work/captions.jsonl" 2>"$work/log" || { cat "$work/log"; exit 1; }
ok=0 total=0
while IFS=$'\t' read -r name want; do
  case "$name" in ''|'#'*) continue ;; esac
  total=$((total + 1))
  line=$(grep -F "\"image\":\"$src/assets/images/$name\"" "$work/captions.jsonl" || true)
  if [[ "$line" == *"\"text\":\"$want\""* ]]; then ok=$((ok + 1)); else echo "MISMATCH $name: want '$want', got: $line"; fi
done < "$src/assets/images/labels.txt"
echo "$ok/$total demo captions match labels.txt"
[ "$total" -gt 0 ] && [ "$ok" -eq "$total" ]
