#!/usr/bin/env bash
# End-to-end tests of `paligemma caption --shards` on the tiny test model (tests/caption's
# fixture) and the shards of make_shards.py.
#   shards_e2e.sh CASE PALIGEMMA CAPTION_FIXTURE_DIR SHARD_FIXTURE_DIR WORK_DIR
# CASE: records | layouts | kill_resume | range | usage
# Needs MPIRUN (mpirun path) in the environment; OPENBLAS_NUM_THREADS=1 is expected.
set -euo pipefail
case_name="$1"; bin="$2"; cfx="$3"; sfx="$4"; work="$5"
here="$(cd "$(dirname "$0")" && pwd)"
MPIRUN="${MPIRUN:-mpirun}"
model="$cfx/model.h5"
tok="$here/../../assets/tokenizer/tiny.model"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cp -r "$sfx/shards" shards && cp "$sfx/list.txt" list.txt && cp -r "$sfx/loose" loose

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
# caption NP TP [args...] (CAPTION_EXEC=1: exec mpirun, so that a background subshell's $! is mpirun)
caption() {
  local np="$1" tp="$2"; shift 2
  ${CAPTION_EXEC:+exec} "$MPIRUN" --oversubscribe --bind-to none -np "$np" "$bin" caption --model "$model" \
    --tokenizer "$tok" --tp "$tp" --max-new-tokens 8 --progress off "$@"
}
outputs() { ls "$1"/*.jsonl 2>/dev/null | wc -l; }
# same_outputs A B: every shard output of A is byte-identical in B, and B has no other.
same_outputs() {
  [ "$(outputs "$1")" -eq 7 ] || fail "$1 holds $(outputs "$1") outputs, expected 7"
  [ "$(outputs "$2")" -eq 7 ] || fail "$2 holds $(outputs "$2") outputs, expected 7"
  for f in "$1"/*.jsonl; do cmp "$f" "$2/$(basename "$f")" || fail "$2/$(basename "$f") differs from $f"; done
}
reference() {  # ref/: np 1, --keep-meta, checked against the loose-file job on the same images
  caption 1 1 --images loose --output loose.jsonl --batch 3 2> loose.log || { cat loose.log; fail "loose-file run"; }
  caption 1 1 --shards list.txt --output-dir ref --keep-meta --batch 3 2> ref.log || { cat ref.log; fail "np 1"; }
  python3 "$here/check_shard_outputs.py" ref loose.jsonl --keep-meta || fail "np 1 outputs"
}

case "$case_name" in
records)
  reference
  grep -q "^caption: 7 shards, 0 already written in ref, 7 to caption on 1 replica" ref.log || { cat ref.log; fail "plan line"; }
  grep -q "shard shards/00005.tar -> ref/00005.jsonl: 4 records (2 errors).*damaged: .*truncated" ref.log ||
    { cat ref.log; fail "the truncated shard is not reported"; }
  grep -q "^caption: wrote 7 shard outputs in ref: 30 records (24 ok, 6 errors)" ref.log || { cat ref.log; fail "summary"; }
  # Without --keep-meta (a glob, then a second job adding the .tgz to the same dir): no meta fields.
  caption 2 1 --shards 'shards/0000[0-5].tar' --output-dir plain --batch 2 2> plain.log || { cat plain.log; fail "glob run"; }
  caption 1 1 --shards 'shards/*.tgz' --output-dir plain --batch 2 2> plain2.log || { cat plain2.log; fail "tgz run"; }
  python3 "$here/check_shard_outputs.py" plain loose.jsonl || fail "outputs without --keep-meta"
  # Rerun: everything already written, nothing captioned, outputs untouched.
  cp -r ref ref.copy
  caption 1 1 --shards list.txt --output-dir ref --keep-meta 2> again.log || { cat again.log; fail "rerun"; }
  grep -q "7 already written in ref, 0 to caption" again.log || { cat again.log; fail "rerun did not skip"; }
  for f in ref.copy/*.jsonl; do cmp "$f" "ref/$(basename "$f")" || fail "the rerun changed $f"; done
  # A changed prompt or --keep-meta is refused by the manifest.
  if caption 1 1 --shards list.txt --output-dir ref 2> refused.log; then fail "dropping --keep-meta was not refused"; fi
  grep -qF 'keep_meta: recorded "true", now "false"' refused.log || { cat refused.log; fail "manifest message"; }
  ;;
layouts)
  caption 1 1 --shards list.txt --output-dir ref --batch 3 2> ref.log || { cat ref.log; fail "np 1"; }
  for layout in "2 1 2" "2 2 3" "4 2 1"; do
    set -- $layout
    caption "$1" "$2" --shards list.txt --output-dir "np$1_tp$2" --batch "$3" 2> "np$1_tp$2.log" ||
      { cat "np$1_tp$2.log"; fail "np $1 --tp $2"; }
    same_outputs ref "np$1_tp$2"
  done
  grep -q "to caption on 2 replicas x --tp 2" np4_tp2.log || { cat np4_tp2.log; fail "np 4 plan"; }
  ;;
kill_resume)
  caption 1 1 --shards list.txt --output-dir ref --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
  # A slowed-down job (150 ms per engine step) killed with SIGKILL once 2 shards are written.
  (CAPTION_EXEC=1 PG_DEBUG_CAPTION_STEP_DELAY_MS=150 caption 2 2 --shards list.txt --output-dir out --batch 2 \
    > killed.log 2>&1) &
  mpirun_pid=$!
  for _ in $(seq 1200); do [ "$(outputs out)" -ge 2 ] && break; sleep 0.05; done
  [ "$(outputs out)" -ge 2 ] || { cat killed.log; fail "no shard output appeared"; }
  ranks=$(pgrep -P "$mpirun_pid" || true)
  [ -n "$ranks" ] || fail "no rank processes under mpirun $mpirun_pid"
  kill -KILL $ranks "$mpirun_pid" 2>/dev/null || true
  wait "$mpirun_pid" 2>/dev/null || true
  done_before=$(outputs out)
  [ "$done_before" -lt 7 ] || fail "the killed job had already finished"
  for f in out/*.jsonl; do cmp "$f" "ref/$(basename "$f")" || fail "the killed job's finished $f differs"; done
  echo "killed after $done_before of 7 shards; unfinished: $(ls out/.parts | grep -c '\.part$' || true) part file(s)"
  # Resume with another layout: 3 replicas of --tp 1.
  caption 3 1 --shards list.txt --output-dir out --batch 3 2> resume.log || { cat resume.log; fail "resume"; }
  grep -q "$done_before already written in out, $((7 - done_before)) to caption" resume.log ||
    { cat resume.log; fail "resume did not skip the finished shards"; }
  same_outputs ref out
  [ "$(ls out/.parts | tr '\n' ' ')" = "manifest.json manifest.lock " ] || fail "out/.parts holds $(ls out/.parts)"
  ;;
sigterm)
  # SIGTERM to mpirun (graceful stop, dist/interrupt.h): finished shard outputs stay, the shards in
  # progress are not written, every rank exits 143 and the rerun completes them byte-identically.
  caption 1 1 --shards list.txt --output-dir ref --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
  (CAPTION_EXEC=1 PG_DEBUG_CAPTION_STEP_DELAY_MS=150 caption 2 1 --shards list.txt --output-dir out --batch 2 \
    > term.log 2>&1) &
  mpirun_pid=$!
  for _ in $(seq 1200); do [ "$(outputs out)" -ge 2 ] && break; sleep 0.05; done
  [ "$(outputs out)" -ge 2 ] || { cat term.log; fail "no shard output appeared"; }
  kill -TERM "$mpirun_pid"; rc=0; wait "$mpirun_pid" || rc=$?
  [ "$rc" -ne 0 ] || fail "mpirun exited 0 after SIGTERM"
  grep -q "caption: interrupted by SIGTERM" term.log || { cat term.log; fail "no interrupted message"; }
  ! grep -q "error:" term.log || { cat term.log; fail "SIGTERM printed an error"; }
  done_before=$(outputs out)
  [ "$done_before" -lt 7 ] || fail "the job had already finished"
  for f in out/*.jsonl; do cmp "$f" "ref/$(basename "$f")" || fail "the interrupted job's $f differs"; done
  caption 1 1 --shards list.txt --output-dir out --batch 2 2> resume.log || { cat resume.log; fail "resume"; }
  same_outputs ref out
  echo "SIGTERM after $done_before of 7 shards, mpirun exit $rc; resumed byte-identically"
  ;;
range)
  caption 1 1 --shards list.txt --output-dir ref --batch 3 2> ref.log || { cat ref.log; fail "np 1"; }
  # Two "Slurm array elements" at once on one output dir: K/N parts, then an A:B range.
  caption 1 1 --shards list.txt --output-dir arr --shard-range 0/2 2> a0.log & a0=$!
  caption 1 1 --shards list.txt --output-dir arr --shard-range 1/2 2> a1.log || { cat a1.log; fail "element 1/2"; }
  wait "$a0" || { cat a0.log; fail "element 0/2"; }
  grep -q "^caption: 3 shards (--shard-range 0/2: 0..3 of 7)" a0.log || { cat a0.log; fail "0/2 plan"; }
  grep -q "^caption: 4 shards (--shard-range 1/2: 3..7 of 7)" a1.log || { cat a1.log; fail "1/2 plan"; }
  same_outputs ref arr
  caption 1 1 --shards list.txt --output-dir r2 --shard-range 5: 2> r2.log || { cat r2.log; fail "5:"; }
  [ "$(ls r2/*.jsonl | xargs -n1 basename | tr '\n' ' ')" = "00005.jsonl 00006.jsonl " ] || fail "5: wrote $(ls r2)"
  caption 1 1 --shards list.txt --output-dir r2 --shard-range 4:6 2> r3.log || { cat r3.log; fail "4:6"; }
  grep -q "1 already written in r2, 1 to caption" r3.log || { cat r3.log; fail "4:6 plan"; }
  caption 1 1 --shards list.txt --output-dir r2 --shard-range 9:12 2> r4.log || { cat r4.log; fail "an empty range failed"; }
  grep -q "^caption: 0 shards" r4.log || { cat r4.log; fail "empty range plan"; }
  ;;
usage)
  expect_error() {  # expect_error MESSAGE args...
    local msg="$1"; shift
    if caption 1 1 "$@" > err.log 2>&1; then fail "accepted: $*"; fi
    grep -qF -- "$msg" err.log || { cat err.log; fail "no '$msg' for: $*"; }
  }
  expect_error "--shards requires --output-dir" --shards list.txt
  expect_error "excludes --shards" --shards list.txt --output-dir o --images loose
  expect_error "'shards/nothing*.tar' matches no file" --shards 'shards/nothing*.tar' --output-dir o
  expect_error "1 of the 3 selected shards are not files: 'shards/00009.tar'" --shards 'shards/{00004,00005,00009}.tar' --output-dir o
  expect_error "the '{' at byte 7 is never closed" --shards 'shards/{0000.tar' --output-dir o
  expect_error "--shard-range 'x': expected A:B, A: or K/N" --shards list.txt --output-dir o --shard-range x
  cp shards/00001.tar 00001.tar
  expect_error "would both write '00001.jsonl'" --shards '{shards/00001.tar,00001.tar}' --output-dir o
  # Nothing listed is a tar: every record is an error, the job exits 1 but writes the output.
  printf 'not a tar\n' > bad.tar
  expect_error "every one of the 1 records failed" --shards bad.tar --output-dir bad
  grep -q '"status":"error".*bad.tar' bad/bad.jsonl || fail "bad.tar: $(cat bad/bad.jsonl)"
  ;;
*)
  echo "shards_e2e.sh: unknown case '$case_name'" >&2; exit 2 ;;
esac
echo "PASS [$case_name]"
