#!/usr/bin/env bash
# mpirun -np 3 paligemma generate --tp 3 on a 4-head model must exit non-zero within 30 s,
# with the divisibility message printed by every rank.
set -u
mpirun=$1 bin=$2 model=$3 src=$4
log=$(mktemp)
start=$(date +%s)
timeout 60 "$mpirun" --oversubscribe --bind-to none -np 3 "$bin" generate --model "$model" \
  --tokenizer "$src/assets/tokenizer/tiny.model" --image "$src/tests/fixtures/hf/gemma1_mqa/image_0.png" \
  --prompt "caption en" --tp 3 >"$log" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
cat "$log"
[ "$rc" -ne 0 ] || { echo "FAIL: exit code 0"; exit 1; }
[ "$rc" -ne 124 ] || { echo "FAIL: hung (timeout)"; exit 1; }
[ "$elapsed" -le 30 ] || { echo "FAIL: took ${elapsed}s"; exit 1; }
n=$(grep -c "not divisible by --tp 3" "$log")
[ "$n" -ge 3 ] || { echo "FAIL: expected the divisibility error from all 3 ranks, saw $n"; exit 1; }
echo "PASS: rc=$rc in ${elapsed}s, $n ranks reported the error"
