#!/usr/bin/env bash
# run_quick_bench.sh MPIEXEC PALIGEMMA SOURCE_DIR WORK_DIR
# Runs the quick benchmark sweep at -np 4, then checks its outputs and the plots.
set -euo pipefail
mpiexec=$1 bin=$2 src=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

start=$(date +%s)
"$mpiexec" -np 4 --oversubscribe --bind-to none "$bin" bench --quick --config "$src/configs/tiny.json" \
    --out "$work" > "$work/stdout.txt" 2>&1 || { cat "$work/stdout.txt"; fail "bench exited non-zero"; }
echo "bench --quick took $(( $(date +%s) - start )) s"
cat "$work/stdout.txt"

# The machine and command line are echoed at the top.
grep -q '^# command: .*bench --quick' "$work/stdout.txt" || fail "no command line echoed"
grep -q '^# machine: [0-9]* cores' "$work/stdout.txt" || fail "no machine line echoed"

csv=$work/bench.csv
[ -s "$csv" ] || fail "$csv missing"
header=$(head -1 "$csv")
for col in model ranks tp dp vit scaling batch images new_tokens image_s vit_s bcast_s prefill_s \
           prefill_allreduce_s decode_s decode_allreduce_s decode_step_ms e2e_s images_per_s tokens_per_s \
           load1_start oversubscribed; do
  echo ",$header," | grep -q ",$col," || fail "bench.csv has no column '$col' (header: $header)"
done
ncols=$(head -1 "$csv" | awk -F, '{print NF}')
awk -F, -v n="$ncols" 'NR > 1 && NF != n { print "row " NR " has " NF " fields, expected " n; bad = 1 } END { exit bad }' "$csv" \
    || fail "ragged bench.csv"
# Every layout of the quick sweep: ranks,tp,dp = 1,1,1 2,1,2 2,2,1 4,1,4 4,2,2 4,4,1, strong and weak.
for layout in 1,1,1 2,1,2 2,2,1 4,1,4 4,2,2 4,4,1; do
  for scaling in strong weak; do
    awk -F, -v l="$layout" -v s="$scaling" 'NR > 1 && ($4 "," $5 "," $6) == l && $8 == s { found = 1 } END { exit !found }' "$csv" \
        || fail "no $scaling row for ranks,tp,dp = $layout"
  done
done
# Throughput is positive; all-reduce time is zero at tp 1 and positive at tp > 1.
python3 - "$csv" <<'PY' || fail "bench.csv values"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows:
    assert float(r["images_per_s"]) > 0 and float(r["e2e_s"]) > 0, r
    ar = float(r["prefill_allreduce_s"]) + float(r["decode_allreduce_s"])
    if int(r["tp"]) == 1:
        assert ar == 0 and float(r["bcast_s"]) == 0, r
    else:
        assert ar > 0 and float(r["allreduce_calls"]) > 0, r
    assert int(r["oversubscribed"]) == (int(r["ranks"]) * int(r["threads"]) > int(r["nproc"])), r
print(f"bench.csv: {len(rows)} rows ok")
PY
[ -s "$work/collectives.csv" ] || fail "collectives.csv missing"
grep -q '^4,4,1,allreduce_f32,' "$work/collectives.csv" || fail "no tp 4 all-reduce timings"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['runs'][0]; assert r['machine']['nproc']>0 and r['machine']['command_line'] and len(r['rows'])>=12" \
    "$work/bench.json" || fail "bench.json"
ls "$work"/.bench-random-* > /dev/null 2>&1 && fail "the temporary random model was not removed"

if ! command -v gnuplot > /dev/null; then
  echo "SKIPPED the plot check: gnuplot is not installed (apt-get install gnuplot-nox; scripts/install_deps.sh)"
  exit 0
fi
python3 "$src/bench/plot.py" "$work" || fail "plot.py failed"
for png in tiny_strong_scaling tiny_weak_scaling tiny_efficiency tiny_phases collectives; do
  f=$work/$png.png
  [ -s "$f" ] || fail "$f missing"
  [ "$(head -c 4 "$f" | tail -c 3)" = "PNG" ] || fail "$f is not a PNG"
done
echo "PASS: bench outputs and plots in $work"
