#!/usr/bin/env bash
# A `perf` profile of `paligemma caption` (issue 14, "a perf profile before and after"): samples
# every thread of the one rank at FREQ Hz (user-space cycles, no call graphs), then writes
#   OUT/symbols.txt   self samples per symbol (share of all samples; the top lines are the phases)
#   OUT/threads.txt   samples per thread (how busy the backend's second thread is)
#   OUT/dsos.txt      samples per library (OpenBLAS / oneDNN / libgomp spin / the engine)
#   OUT/captions.jsonl, OUT/run.txt (the command, the load average, wall time)
# A tokenizer with the model's vocabulary is made with scripts/make_sized_tokenizer.sh, and the
# images are the 8 shipped sample images twice (16 images), so any model the converter made can be
# captioned, e.g. bench/hf_compare.py's "mid" model:
#
#   scripts/perf_profile.sh BIN MODEL.h5 OUT [extra caption flags, e.g. --dtype bf16]
#   e.g. scripts/perf_profile.sh build/paligemma /tmp/pg-hf-compare/engine-mid.h5 /tmp/prof-head
# Env: THREADS (2), BATCH (8), NEW_TOKENS (16), FREQ (999), VOCAB (default: the model's, via h5dump).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BIN MODEL.h5 OUT [caption flags...]" >&2; exit 2; }
bin=$1 model=$2 out=$3
shift 3
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$bin" ] || { echo "$0: BIN '$bin' is not an executable (build it: scripts/build.sh --target paligemma)" >&2; exit 2; }
[ -f "$model" ] || { echo "$0: MODEL '$model' not found" >&2; exit 2; }
command -v perf >/dev/null || { echo "$0: perf not found (apt-get install linux-perf)" >&2; exit 1; }
vocab=${VOCAB:-$(h5dump -a /config "$model" | grep -o '"vocab_size": *[0-9]*' | grep -o '[0-9]*$' || true)}
[ -n "$vocab" ] || { echo "$0: cannot read text.vocab_size from MODEL '$model' (set VOCAB)" >&2; exit 2; }
mkdir -p "$out/images"
"$root/scripts/make_sized_tokenizer.sh" "$vocab" "$out/tok/tokenizer" >/dev/null
for copy in a b; do
  for f in "$root"/assets/images/*.png "$root"/assets/images/*.jpg; do cp "$f" "$out/images/$copy-$(basename "$f")"; done
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cmd=(mpirun -np 1 --bind-to none "$bin" caption --model "$model" --tokenizer "$out/tok/tokenizer.model"
     --images "$out/images" --output "$out/captions.jsonl" --restart --batch "${BATCH:-8}"
     --max-new-tokens "${NEW_TOKENS:-16}" --threads "${THREADS:-2}" --progress off "$@")
{
  echo "# $(date -u +%FT%TZ) bin $bin (commit $(git -C "$(dirname "$bin")/.." rev-parse --short HEAD 2>/dev/null || echo ?)), loadavg: $(cat /proc/loadavg)"
  echo "perf record -F ${FREQ:-999} -e cpu-clock -o $out/perf.data -- ${cmd[*]}"
} | tee "$out/run.txt"
start=$(date +%s.%N)
perf record -q -F "${FREQ:-999}" -e cpu-clock -o "$out/perf.data" -- "${cmd[@]}" >"$out/caption.log" 2>&1 ||
  { cat "$out/caption.log" >&2; exit 1; }
echo "wall $(echo "$(date +%s.%N) - $start" | bc) s; loadavg after: $(cat /proc/loadavg)" | tee -a "$out/run.txt"
report() {  # perf report sorted by $1, one line per entry >= 0.3% of all samples
  perf report -i "$out/perf.data" --stdio --no-children --percent-limit 0.3 --sort "$1" 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -E 's/ +- +- *$//; s/ +$//' >"$out/$2"
}
report symbol symbols.txt
report pid threads.txt
report pid,dso threads_dsos.txt
report dso dsos.txt
echo "== threads"; head -n 4 "$out/threads.txt"
echo "== thread x library"; head -n 10 "$out/threads_dsos.txt"
echo "== symbols"; head -n 25 "$out/symbols.txt"
