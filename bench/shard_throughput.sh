#!/usr/bin/env bash
# Throughput of `caption --shards` against `caption --images` on the same images (issue 17):
# make_shards.py --bench writes N tar shards of S samples (fixture images cycled, each with a
# .json) and the same images as loose files; then, interleaved R times, a loose-file run and a
# shard run with the same model and flags, each into a fresh output. Prints one line per run and
# the median images/s of each kind (from the jobs' own summary lines).
#
#   bash bench/shard_throughput.sh [--model M.h5 --tokenizer T.model] [--shards N] [--per-shard S]
#        [--repeats R] [--np P] [--work DIR] [-- extra caption flags]
# Defaults: the caption tests' tiny model (converted from tests/fixtures/hf/gemma1_batch into
# WORK), assets/tokenizer/tiny.model, N=8, S=250, R=3, P=1, WORK=/tmp/pg_shard_bench,
# --max-new-tokens 4 --batch 16 (a tiny model: the input path is what is measured).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PALIGEMMA:-$ROOT/build/paligemma}"
MODEL="" TOK="$ROOT/assets/tokenizer/tiny.model" N=8 S=250 R=3 NP=1 WORK=/tmp/pg_shard_bench
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --tokenizer) TOK="$2"; shift 2 ;;
    --shards) N="$2"; shift 2 ;;
    --per-shard) S="$2"; shift 2 ;;
    --repeats) R="$2"; shift 2 ;;
    --np) NP="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "shard_throughput.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
EXTRA=("$@")
[ ${#EXTRA[@]} -gt 0 ] || EXTRA=(--max-new-tokens 4 --batch 16)
mkdir -p "$WORK"
if [ -z "$MODEL" ]; then
  MODEL="$WORK/model.h5"
  "$BIN" convert --from hf --input "$ROOT/tests/fixtures/hf/gemma1_batch" --output "$MODEL" > "$WORK/convert.log" 2>&1
fi
python3 "$ROOT/tests/caption_shards/make_shards.py" "$ROOT" "$WORK/data" --bench "$N" "$S" > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
run() {  # run KIND I: prints "KIND images_per_s"
  local kind="$1" i="$2" out="$WORK/out_$1_$2" log="$WORK/$1_$2.log"
  rm -rf "$out" "$out.jsonl" "$out.jsonl.parts"
  local input=(--images "$WORK/data/loose/all" --output "$out.jsonl")
  [ "$kind" = shards ] && input=(--shards "$WORK/data/shards" --output-dir "$out")
  mpirun --oversubscribe --bind-to none -np "$NP" "$BIN" caption --model "$MODEL" --tokenizer "$TOK" \
    --progress off "${input[@]}" "${EXTRA[@]}" 2> "$log" || { cat "$log" >&2; exit 1; }
  local ips
  ips=$(grep -o 'this run: .* images/s' "$log" | grep -o '[0-9.]* images/s$' | cut -d' ' -f1)
  echo "$kind $ips"
}
echo "# $N shards x $S images, np $NP, ${EXTRA[*]}; $(nproc) CPUs; $(date -u +%FT%TZ)"
results=()
for i in $(seq "$R"); do
  for kind in loose shards; do
    line=$(run "$kind" "$i"); echo "run $i: $line images/s"; results+=("$line")
  done
done
for kind in loose shards; do
  printf '%s\n' "${results[@]}" | awk -v k="$kind" '$1 == k { print $2 }' | sort -g |
    awk -v k="$kind" '{ v[NR] = $1 } END { printf "median %-6s %.1f images/s (%d runs)\n", k, v[int((NR + 1) / 2)], NR }'
done
