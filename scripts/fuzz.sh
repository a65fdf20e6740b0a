#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan on pgcore, CPU only) in build-fuzz/,
# then for each target: replays its committed corpus fuzz/corpus/<target>/ (every seed and
# crash reproducer must pass), and fuzzes it for a fixed budget in a scratch copy of the corpus
# (the committed corpus is never written). Prints one summary line per target and exits non-zero
# on any finding (crash, sanitizer report, leak, timeout, out-of-memory), naming the reproducer.
#
#   bash scripts/fuzz.sh [--budget SECONDS_PER_TARGET] [--targets "npz_reader image_decode"]
#                        [--hdf5-bytes] [--no-build]
#
# --budget 0 only replays the corpora. checkpoint_bytes (raw HDF5 bytes) is replayed always but
# fuzzed only with --hdf5-bytes: mutating HDF5 metadata finds crashes inside libhdf5 itself
# (fuzz/README.md). Reproduce a finding: build-fuzz/fuzz/<target>_fuzz <reproducer file>.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-fuzz"
BUDGET=30
TARGETS="image_decode npz_reader safetensors_reader checkpoint_validator checkpoint_bytes prompt_tokenizer tokenizer_model tar_reader segmentation_answer"
HDF5_BYTES=0
BUILD_FIRST=1
while [ $# -gt 0 ]; do
  case "$1" in
    --budget) BUDGET="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --hdf5-bytes) HDF5_BYTES=1; shift ;;
    --no-build) BUILD_FIRST=0; shift ;;
    *) echo "usage: $0 [--budget SECONDS_PER_TARGET] [--targets \"T ...\"] [--hdf5-bytes] [--no-build]" >&2; exit 2 ;;
  esac
done

# Largest input each target mutates (bytes): a few times its largest useful seed.
max_len() {
  case "$1" in
    image_decode) echo 16384 ;;
    npz_reader|safetensors_reader) echo 8192 ;;
    checkpoint_validator) echo 512 ;;      # FuzzedDataProvider choices, not a file
    checkpoint_bytes) echo 140000 ;;       # the writer-format seed is 134 KB
    prompt_tokenizer) echo 2048 ;;
    tokenizer_model) echo 65536 ;;         # the tiny model is 43 KB
    tar_reader) echo 32768 ;;              # the seeds are 10 KB tars
    *) echo 4096 ;;
  esac
}

if [ "$BUILD_FIRST" = 1 ]; then
  bash "$ROOT/scripts/install_deps.sh"
  start=$(date +%s)
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -DPG_FUZZ=ON -DPG_WITH_CUDA=OFF -DPG_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
  cmake --build "$BUILD" --target pg_fuzzers -j"$(nproc)"
  echo "fuzz build: $(( $(date +%s) - start )) s"
fi

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/pgfuzz.XXXXXX")"
# The targets' per-process input files (fuzz_scratch_file.h), in RAM when possible; removed here
# too, since a crashing target leaves its file behind.
export PG_FUZZ_TMPDIR="$(mktemp -d /dev/shm/pgfuzz-files.XXXXXX 2>/dev/null || mktemp -d "$SCRATCH/files.XXXXXX")"
trap 'rm -rf "$SCRATCH" "$PG_FUZZ_TMPDIR"' EXIT
ARTIFACTS="$BUILD/fuzz-artifacts"
mkdir -p "$ARTIFACTS"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [ -s "$ROOT/fuzz/lsan.supp" ]; then export LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0"; fi
COMMON=(-rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1)

# Figures from a libFuzzer log: a -print_final_stats value, and the last "cov:"/"ft:"/"corp:".
final_stat() { grep -o "stat::$2: *[0-9]*" "$1" | grep -o '[0-9]*$' | tail -1; }
last_value() { grep -o "$2: [0-9]*" "$1" | tail -1 | grep -o '[0-9]*$'; }

failed=0
for t in $TARGETS; do
  bin="$BUILD/fuzz/${t}_fuzz"
  corpus="$ROOT/fuzz/corpus/$t"
  dict=()
  [ -f "$ROOT/fuzz/$t.dict" ] && dict=(-dict="$ROOT/fuzz/$t.dict")
  log="$SCRATCH/$t.log"
  # 1. Replay: every committed input once (no -max_len: nothing is truncated).
  n_inputs=$(find "$corpus" -type f | wc -l)
  if ! "$bin" "${COMMON[@]}" -runs=0 -artifact_prefix="$ARTIFACTS/$t-replay-" "$corpus" >"$log" 2>&1; then
    echo "$t: REPLAY FAILED on the committed corpus ($n_inputs inputs)"
    grep -E "ERROR|SUMMARY|Test unit written|fuzz: " "$log" | head -20
    failed=1
    continue
  fi
  budget=$BUDGET
  [ "$t" = checkpoint_bytes ] && [ "$HDF5_BYTES" = 0 ] && budget=0
  if [ "$budget" = 0 ]; then
    echo "$t: replayed $n_inputs inputs, ok (not fuzzed)"
    continue
  fi
  # 2. Fuzz a scratch copy of the corpus for the budget.
  work="$SCRATCH/corpus-$t"
  cp -r "$corpus" "$work"
  rc=0
  # Structure-aware: every byte is a choice, so start at full length (no slow length ramp).
  extra=()
  [ "$t" = checkpoint_validator ] && extra=(-len_control=0)
  "$bin" "${COMMON[@]}" "${dict[@]}" "${extra[@]}" -max_len="$(max_len "$t")" -max_total_time="$budget" \
    -artifact_prefix="$ARTIFACTS/$t-" "$work" >"$log" 2>&1 || rc=$?
  summary="$t: replayed $n_inputs inputs; fuzzed ${budget} s: $(final_stat "$log" number_of_executed_units) execs"
  summary+=" ($(final_stat "$log" average_exec_per_sec)/s), cov $(last_value "$log" cov)"
  summary+=", ft $(last_value "$log" ft), corpus $(last_value "$log" corp), peak rss $(final_stat "$log" peak_rss_mb) MB"
  if [ "$rc" = 0 ]; then
    echo "$summary, 0 crashes"
  else
    echo "$summary, FINDING (libFuzzer exit $rc)"
    grep -E "ERROR: |SUMMARY: |fuzz: |Test unit written" "$log" | head -20
    cp "$log" "$ARTIFACTS/$t.log"
    echo "  full log: $ARTIFACTS/$t.log"
    failed=1
  fi
done
exit $failed
