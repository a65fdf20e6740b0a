#!/usr/bin/env bash
# End-to-end tests of `paligemma caption` on the tiny test model (make_fixture.sh).
#   caption_e2e.sh CASE PALIGEMMA FIXTURE_DIR WORK_DIR
# CASE: layouts | kill_resume | torn_line | manifest | list | inputs | detect | lock | demo_defaults | signals | scores | prompts | output_flags
# Needs MPIRUN (mpirun path) in the environment; OPENBLAS_NUM_THREADS=1 is expected.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/caption_lib.sh"
caption_test_setup "$1" "$2" "$3" "$4"

case "$case_name" in
layouts)
  caption 1 1 --images images --output ref.jsonl --batch 3 2> ref.log || { cat ref.log; fail "np 1 failed"; }
  check_records ref.jsonl
  grep -q 'bad_huge.jpg.*30000' ref.jsonl || fail "the huge image's error does not give its size"
  grep -q "^caption: wrote ref.jsonl: 17 records (12 ok, 5 errors)" ref.log || { cat ref.log; fail "summary"; }
  for layout in "2 2 leader 3" "2 1 leader 2" "4 2 sharded 4" "4 2 leader 1"; do
    set -- $layout
    out="np$1_tp$2_$3_b$4.jsonl"
    caption "$1" "$2" --vit "$3" --batch "$4" --images images --output "$out" 2> "$out.log" ||
      { cat "$out.log"; fail "np $1 tp $2 failed"; }
    cmp ref.jsonl "$out" || fail "np $1 --tp $2 --vit $3 --batch $4 differs from np 1"
  done
  ;;
kill_resume)
  caption 1 1 --images images --output ref.jsonl --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
  check_records ref.jsonl
  n=$(wc -l < ref.jsonl)
  # A slowed-down job (150 ms per engine step) killed with SIGKILL once records appear.
  (CAPTION_EXEC=1 PG_DEBUG_CAPTION_STEP_DELAY_MS=150 caption 4 2 --images images --output out.jsonl --batch 2 \
    > killed.log 2>&1) &
  mpirun_pid=$!
  for _ in $(seq 600); do [ "$(part_lines out.jsonl)" -ge 3 ] && break; sleep 0.05; done
  [ "$(part_lines out.jsonl)" -ge 3 ] || { cat killed.log; fail "no records appeared"; }
  ranks=$(pgrep -P "$mpirun_pid" || true)
  [ -n "$ranks" ] || fail "no rank processes under mpirun $mpirun_pid"
  kill -KILL $ranks "$mpirun_pid" 2>/dev/null || true
  wait "$mpirun_pid" 2>/dev/null || true
  done_before=$(part_lines out.jsonl)
  [ ! -e out.jsonl ] || fail "the killed job wrote out.jsonl: it was not killed mid-run"
  [ "$done_before" -lt "$n" ] || fail "the killed job had already finished ($done_before records)"
  echo "killed after $done_before of $n records"
  # Resume with another layout: 3 replicas of --tp 1 instead of 2 of --tp 2.
  caption 3 1 --images images --output out.jsonl --batch 3 2> resume.log || { cat resume.log; fail "resume"; }
  grep -q "$done_before already recorded" resume.log || { cat resume.log; fail "resume did not skip the records"; }
  cmp ref.jsonl out.jsonl || fail "resumed output differs from the uninterrupted run"
  [ "$(part_lines out.jsonl)" -eq "$n" ] || fail "part files hold $(part_lines out.jsonl) records for $n images"
  ;;
torn_line)
  caption 2 1 --images images --output ref.jsonl --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
  n=$(wc -l < ref.jsonl)
  mkdir out.jsonl.parts
  cp ref.jsonl.parts/manifest.json out.jsonl.parts/
  # Records 0..5 complete, then half of record 6 with no newline: a write torn by a crash.
  head -n 6 ref.jsonl > out.jsonl.parts/part-0.jsonl
  sed -n 7p ref.jsonl | head -c 40 >> out.jsonl.parts/part-0.jsonl
  caption 1 1 --images images --output out.jsonl --batch 4 2> resume.log || { cat resume.log; fail "resume"; }
  grep -q "6 already recorded .*cut a torn last line: 40 bytes in 1 file" resume.log ||
    { cat resume.log; fail "no torn-line repair reported"; }
  cmp ref.jsonl out.jsonl || fail "output after the torn-line repair differs"
  [ "$(part_lines out.jsonl)" -eq "$n" ] || fail "part files hold $(part_lines out.jsonl) records for $n images"
  if grep -v '}$' out.jsonl.parts/part-0.jsonl; then fail "a torn line is left in part-0.jsonl"; fi
  ;;
manifest)
  caption 1 1 --images images --output out.jsonl 2> first.log || { cat first.log; fail "first run"; }
  cp out.jsonl first.jsonl
  expect_refusal() {
    local what="$1"; shift
    if caption 1 1 --output out.jsonl "$@" > refused.log 2>&1; then fail "a changed $what was not refused"; fi
    grep -qF "$what" refused.log || { cat refused.log; fail "the refusal does not name '$what'"; }
    grep -qF "cannot resume: the manifest 'out.jsonl.parts/manifest.json' was written for a different job" \
      refused.log || { cat refused.log; fail "no manifest message"; }
  }
  expect_refusal 'prompt: recorded "caption en", now "caption es"' --images images --prompt "caption es"
  MAX_NEW=5 expect_refusal 'max_new_tokens: recorded "8", now "5"' --images images
  expect_refusal 'sampling.temperature: recorded "0", now "0.699999988"' --images images --temperature 0.7
  expect_refusal 'resize: recorded "bilinear", now "bicubic"' --images images --resize bicubic
  expect_refusal 'exif_transpose: recorded "true", now absent' --images images --no-exif-transpose
  expect_refusal 'exif_transpose: recorded "true", now absent' --images images --exif-transpose=false
  rm images/rgb_16x40.png
  expect_refusal 'images.count: recorded "17", now "16"' --images images
  cp "$fx/images/rgb_16x40.png" images/
  cmp first.jsonl out.jsonl || fail "a refused run changed out.jsonl"
  # Same job, another layout: nothing to do, the same output again.
  caption 2 2 --images images --output out.jsonl 2> again.log || { cat again.log; fail "rerun"; }
  grep -q "17 already recorded" again.log || { cat again.log; fail "rerun did not skip everything"; }
  cmp first.jsonl out.jsonl || fail "rerun changed out.jsonl"
  # --restart starts over with the new settings.
  caption 1 1 --images images --output out.jsonl --prompt "caption es" --restart 2> restart.log ||
    { cat restart.log; fail "--restart"; }
  grep -q "0 already recorded" restart.log || { cat restart.log; fail "--restart kept records"; }
  check_records out.jsonl
  ;;
list)
  # Records follow the list's line order, duplicates included (record i is line i).
  caption 1 1 --images "$fx/list.txt" --output out.jsonl 2> run.log || { cat run.log; fail "list run"; }
  [ "$(wc -l < out.jsonl)" -eq 5 ] || fail "expected 5 records (one per line, the duplicate kept), got $(wc -l < out.jsonl)"
  want=("$fx/images/rgb_37x23.png ok" "$fx/images/rgb_37x23.png ok" "$fx/images/sub/cmyk_20x17.jpg ok"
        "$fx/images/does_not_exist.png error" "$fx/images/la_11x9.png ok")
  for i in 0 1 2 3 4; do
    set -- ${want[$i]}
    sed -n "$((i + 1))p" out.jsonl | grep -qF "{\"image\":\"$1\",\"index\":$i,\"status\":\"$2\"" ||
      fail "line $((i + 1)) is not the record of list line $((i + 1)) ($1, $2): $(sed -n "$((i + 1))p" out.jsonl)"
  done
  sed -n 4p out.jsonl | grep -qF "cannot open" || fail "missing file error: $(sed -n 4p out.jsonl)"
  grep -q "the list names 1 path(s) again" run.log || { cat run.log; fail "the duplicate is not reported"; }
  ;;
inputs)
  # Kinds by content: an extension-less JPEG and a WebP given alone are images, not lists.
  cp images/sub/rgb_37x23_q90.jpg photo
  caption 1 1 --images photo --output one.jsonl 2> one.log || { cat one.log; fail "extension-less JPEG"; }
  [ "$(wc -l < one.jsonl)" -eq 1 ] && grep -qF '{"image":"photo","index":0,"status":"ok"' one.jsonl ||
    fail "extension-less JPEG: $(head -3 one.jsonl)"
  printf 'RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0\n\n\n' > photo.webp
  if caption 1 1 --images photo.webp --output webp.jsonl 2> webp.log; then fail "a job where every image fails exited 0"; fi
  [ "$(wc -l < webp.jsonl)" -eq 1 ] && grep -qF '"status":"error"' webp.jsonl && grep -qF "image 'photo.webp': WebP" webp.jsonl ||
    fail "WebP: $(head -3 webp.jsonl)"
  # Directory mode: every format is captioned (kinds by content: one file has no extension),
  # corrupt ones and extension-less images get records; other files are listed as skipped.
  mkdir dir && cp photo photo.webp dir/ && printf 'GIF89a\x01\0\x01\0' > dir/anim.gif && echo hi > dir/notes
  cp "$fx"/formats/* dir/ && mv dir/heic_37x23.heic dir/heic_no_extension
  caption 1 1 --images dir --output dir.jsonl 2> dir.log || { cat dir.log; fail "directory run"; }
  [ "$(wc -l < dir.jsonl)" -eq 10 ] || fail "expected 10 records, got: $(cat dir.jsonl)"
  grep -qF "image 'dir/anim.gif': GIF" dir.jsonl || fail "GIF record: $(cat dir.jsonl)"
  for f in avif_37x23.avif bmp4_13x11.bmp gif_trns_37x23.gif heic_no_extension orient6_13x7.jpg photo \
           tiff_lzw_37x23.tif webp_lossy_37x23.webp; do
    grep -qF "\"image\":\"dir/$f\",\"index\":" dir.jsonl && grep -F "\"image\":\"dir/$f\"" dir.jsonl | grep -qF '"status":"ok"' ||
      fail "$f is not captioned: $(cat dir.jsonl)"
  done
  grep -qF "skipped dir/notes: not an image" dir.log || { cat dir.log; fail "the skipped file is not reported"; }
  # A file name that is not UTF-8: the record carries its bytes (base64) as well.
  cp photo "$(printf 'dir2_\xff.jpg')" && mkdir dir2 && mv "$(printf 'dir2_\xff.jpg')" dir2/
  caption 1 1 --images dir2 --output nonutf8.jsonl 2> nonutf8.log || { cat nonutf8.log; fail "non-UTF-8 name"; }
  b64=$(printf 'dir2/dir2_\xff.jpg' | base64 -w0)
  grep -qF "\"image_bytes_b64\":\"$b64\"" nonutf8.jsonl || fail "no image_bytes_b64 $b64: $(cat nonutf8.jsonl)"
  # --batch far beyond the images: capped to the images (before: the KV cache for every slot).
  caption 1 1 --images images --output big.jsonl --batch 100000 2> big.log || { cat big.log; fail "--batch 100000"; }
  grep -q "batch 17 (--batch 100000 capped by the images to caption)" big.log || { cat big.log; fail "batch not capped"; }
  check_records big.jsonl
  # ... and refused, naming --batch and the estimate, when it does not fit the memory available.
  if PG_DEBUG_MEM_AVAILABLE_BYTES=1000000 caption 1 1 --images images --output small.jsonl --batch 8 2> small.log; then
    fail "--batch 8 ran in 1 MB"; fi
  grep -q -- "--batch 8: 8 KV-cache slots need an estimated" small.log || { cat small.log; fail "refusal message"; }
  [ ! -e small.jsonl ] || fail "the refused job wrote small.jsonl"
  ;;
detect)
  MAX_NEW=12 caption 2 2 --images images --output out.jsonl --prompt "detect cat ; dog" 2> run.log || { cat run.log; fail "detect run"; }
  n_ok=$(grep -c '"status":"ok"' out.jsonl)
  [ "$(grep -c '"status":"ok".*"boxes":\[.*\],"error":null}$' out.jsonl)" -eq "$n_ok" ] ||
    fail "not every ok record of a detect prompt has boxes"
  grep -v '"status":"ok"' out.jsonl | grep -q boxes && fail "an error record has boxes"
  true
  ;;
lock)
  PG_DEBUG_CAPTION_STEP_DELAY_MS=100 caption 1 1 --images images --output out.jsonl --batch 2 > first.log 2>&1 &
  first=$!
  for _ in $(seq 600); do [ "$(part_lines out.jsonl)" -ge 1 ] && break; sleep 0.05; done
  [ "$(part_lines out.jsonl)" -ge 1 ] || { cat first.log; fail "the first job wrote no record"; }
  if caption 1 1 --images images --output out.jsonl > second.log 2>&1; then fail "a second job on the same output ran"; fi
  grep -q "another caption job is writing 'out.jsonl.parts'" second.log || { cat second.log; fail "lock message"; }
  wait "$first" || { cat first.log; fail "the first job failed"; }
  check_records out.jsonl
  ;;
demo_defaults)
  home="$work/home"
  mkdir -p "$home/build" "$home/assets/tokenizer" "$home/assets"
  if PG_HOME="$home" "$bin" caption --progress off > missing.log 2>&1; then fail "ran without a demo model"; fi
  grep -qF "no --model given and the demo model '$home/build/demo_model.h5' does not exist" missing.log ||
    { cat missing.log; fail "missing demo model message"; }
  grep -qF "scripts/demo.sh" missing.log || fail "the message does not point to scripts/demo.sh"
  ln -s "$model" "$home/build/demo_model.h5"
  ln -s "$tok" "$home/assets/tokenizer/tiny.model"
  ln -s "$work/images" "$home/assets/images"
  mkdir run && cd run
  PG_HOME="$home" "$MPIRUN" --oversubscribe --bind-to none -np 2 "$bin" caption --tp 2 --max-new-tokens 8 \
    2> run.log || { cat run.log; fail "demo run"; }
  [ -f out/captions.jsonl ] || fail "no ./out/captions.jsonl"
  grep -q "embedded demo default --model $home/build/demo_model.h5" run.log || { cat run.log; fail "no note"; }
  [ "$(wc -l < out/captions.jsonl)" -eq 17 ] || fail "expected 17 records"
  ;;
signals)
  # Graceful SIGINT / SIGTERM (dist/interrupt.h): the job stops between two engine steps, keeps
  # every committed record, says how to resume and exits 128+signal; the rerun completes it
  # byte-identically to an uninterrupted run.
  caption 1 1 --images images --output ref.jsonl --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
  n=$(wc -l < ref.jsonl)
  wait_records() {  # wait_records OUT PID: until 3 records are committed (the job still running)
    for _ in $(seq 600); do [ "$(part_lines "$1")" -ge 3 ] && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.05; done
    fail "no records appeared before the signal"
  }
  # 1. SIGINT to a single process (no mpirun: a singleton MPI rank, as under srun).
  PG_DEBUG_CAPTION_STEP_DELAY_MS=150 "$bin" caption --model "$model" --tokenizer "$tok" --max-new-tokens 8 \
    --progress lines --images images --output int.jsonl --batch 2 > int.log 2>&1 &
  pid=$!
  wait_records int.jsonl "$pid"
  t0=$(date +%s%N); kill -INT "$pid"; rc=0; wait "$pid" || rc=$?; t1=$(date +%s%N)
  [ "$rc" -eq 130 ] || { cat int.log; fail "SIGINT: exit $rc, expected 130"; }
  [ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "SIGINT: took $(( (t1 - t0) / 1000000 )) ms to stop"
  grep -q "caption: interrupted by SIGINT: [0-9]* of $n images are recorded" int.log || { cat int.log; fail "no summary"; }
  grep -q "run the same command again to resume" int.log || fail "no resume hint"
  [ ! -e int.jsonl ] || fail "the interrupted job wrote int.jsonl"
  kept=$(part_lines int.jsonl)
  [ "$kept" -ge 3 ] && [ "$kept" -lt "$n" ] || fail "SIGINT: $kept records kept of $n"
  caption 2 1 --images images --output int.jsonl --batch 2 2> int_resume.log || { cat int_resume.log; fail "resume"; }
  grep -q "$kept already recorded" int_resume.log || { cat int_resume.log; fail "the resume did not reuse $kept records"; }
  cmp ref.jsonl int.jsonl || fail "SIGINT + resume differs from the uninterrupted run"
  kept_int=$kept
  # 2. SIGTERM to mpirun (Slurm preemption, scancel): every rank of 2 replicas x --tp 2 stops.
  # Open MPI's mpirun sends the ranks SIGTERM odls_base_sigkill_timeout (default 1 s) after its
  # own SIGINT/SIGTERM and SIGKILL as long again after that: they must be out within that second.
  (CAPTION_EXEC=1 PG_DEBUG_CAPTION_STEP_DELAY_MS=150 \
    caption 4 2 --images images --output term.jsonl --batch 2 > term.log 2>&1) &
  pid=$!
  wait_records term.jsonl "$pid"
  t0=$(date +%s%N); kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; t1=$(date +%s%N)
  [ "$rc" -ne 0 ] || { cat term.log; fail "SIGTERM: mpirun exited 0"; }
  [ $(( (t1 - t0) / 1000000 )) -lt 10000 ] || fail "SIGTERM: took $(( (t1 - t0) / 1000000 )) ms to stop"
  grep -q "caption: interrupted by SIGTERM: [0-9]* of $n images are recorded" term.log || { cat term.log; fail "no summary"; }
  ! grep -q "error:" term.log || { cat term.log; fail "SIGTERM printed an error"; }
  pgrep -f "output term.jsonl" >/dev/null && fail "ranks still running after mpirun exited"
  [ ! -e term.jsonl ] || fail "the interrupted job wrote term.jsonl"
  kept=$(part_lines term.jsonl)
  caption 1 1 --images images --output term.jsonl --batch 2 2> term_resume.log || { cat term_resume.log; fail "resume"; }
  cmp ref.jsonl term.jsonl || fail "SIGTERM + resume differs from the uninterrupted run"
  echo "signals: SIGINT exit 130 with $kept_int of $n records kept; SIGTERM via mpirun exit $rc, $kept kept"
  ;;
scores)
  # --scores: "logprob" = sum of "token_logprobs", one per generated token (+ <eos>), all <= 0;
  # the same values (to 1e-4) under 2 replicas x --tp 2; the text is unchanged; the manifest
  # refuses to resume a job with --scores into one without.
  caption 1 1 --images images --output plain.jsonl --batch 3 2> plain.log || { cat plain.log; fail "plain run"; }
  caption 1 1 --images images --output s1.jsonl --batch 3 --scores 2> s1.log || { cat s1.log; fail "np 1 --scores"; }
  caption 4 2 --images images --output s4.jsonl --batch 2 --scores 2> s4.log || { cat s4.log; fail "np 4 --scores"; }
  python3 - plain.jsonl s1.jsonl s4.jsonl <<'PY' || fail "scores check"
import json, sys
plain, s1, s4 = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert len(plain) == len(s1) == len(s4) == 17
for a, b, c in zip(plain, s1, s4):
    if a["status"] != "ok":
        assert "logprob" not in b, b
        continue
    assert a["text"] == b["text"] == c["text"], (a, b, c)
    lp = b["token_logprobs"]
    assert len(lp) == b["tokens"] + (1 if b["eos"] else 0), b
    assert all(x <= 0 for x in lp), b
    assert abs(sum(lp) - b["logprob"]) <= 1e-4 * (len(lp) + 1), b
    assert list(b.keys())[-3:] == ["logprob", "token_logprobs", "error"], list(b.keys())
    assert all(abs(x - y) <= 2e-4 for x, y in zip(lp, c["token_logprobs"])), (b, c)
print("scores: %d ok records checked" % sum(r["status"] == "ok" for r in s1))
PY
  caption 1 1 --images images --output s1.jsonl --batch 3 2> s1_again.log && fail "resume without --scores was accepted"
  grep -q "scores" s1_again.log || { cat s1_again.log; fail "the manifest error does not name scores"; }
  ;;
prompts)
  # Several prompts per image (--prompt twice, --requests JSONL): one record per (image, prompt),
  # image-major / line order, each with "prompt"; each answer equals the single-prompt job's;
  # the same bytes under 2 replicas x --tp 2 and after SIGINT + resume.
  caption 1 1 --images images --output cap.jsonl --batch 3 2> cap.log || { cat cap.log; fail "caption en"; }
  caption 1 1 --images images --output det.jsonl --batch 3 --prompt "detect waves" 2> det.log ||
    { cat det.log; fail "detect waves"; }
  caption 1 1 --images images --output two.jsonl --batch 3 --prompt "caption en" --prompt "detect waves" 2> two.log ||
    { cat two.log; fail "two prompts"; }
  caption 4 2 --images images --output two_np4.jsonl --batch 2 --prompt "caption en" --prompt "detect waves" \
    2> two_np4.log || { cat two_np4.log; fail "two prompts np 4"; }
  cmp two.jsonl two_np4.jsonl || fail "two prompts: np 4 --tp 2 differs from np 1"
  good=$(grep -m1 '"status":"ok"' cap.jsonl | sed 's/^{"image":"\([^"]*\)".*/\1/')
  printf '%s\n' '{"image": "'"$good"'", "prompts": ["detect waves", "caption en"]}' \
    '' '{"image": "missing.jpg", "prompts": ["caption en", "detect waves"]}' '{"image": "'"$good"'"}' > req.jsonl
  caption 2 1 --requests req.jsonl --output req_out.jsonl --batch 2 2> req.log || { cat req.log; fail "--requests"; }
  python3 - cap.jsonl det.jsonl two.jsonl req_out.jsonl <<'PY' || fail "multi-prompt records"
import json, sys
cap, det, two, req = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
assert len(two) == 2 * len(cap), (len(two), len(cap))
for i, r in enumerate(two):
    single = (cap if i % 2 == 0 else det)[i // 2]
    assert r["index"] == i and r["image"] == single["image"], (r, single)
    assert r["prompt"] == ("caption en" if i % 2 == 0 else "detect waves"), r
    assert list(r.keys())[:3] == ["image", "index", "prompt"], list(r.keys())
    assert r["status"] == single["status"] and r["text"] == single["text"], (r, single)
    assert r.get("boxes") == single.get("boxes"), (r, single)
    assert "prompt" not in single, single
assert [r["prompt"] for r in req] == ["detect waves", "caption en", "caption en", "detect waves", "caption en"], req
assert req[2]["status"] == req[3]["status"] == "error" and "missing.jpg" in req[2]["error"], req
by = {(r["image"], r["prompt"]): r["text"] for r in two}
for r in req:
    if r["status"] == "ok":
        assert r["text"] == by[(r["image"], r["prompt"])], r
print("prompts: %d two-prompt records, %d request records checked" % (len(two), len(req)))
PY
  PG_DEBUG_CAPTION_STEP_DELAY_MS=150 "$bin" caption --model "$model" --tokenizer "$tok" --max-new-tokens 8 \
    --progress lines --images images --output int.jsonl --batch 2 --prompt "caption en" --prompt "detect waves" \
    > int.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do [ "$(part_lines int.jsonl)" -ge 5 ] && break; sleep 0.05; done
  kill -INT "$pid"; rc=0; wait "$pid" || rc=$?
  [ "$rc" -eq 130 ] || { cat int.log; fail "SIGINT: exit $rc"; }
  caption 2 1 --images images --output int.jsonl --batch 3 --prompt "caption en" --prompt "detect waves" \
    2> int_resume.log || { cat int_resume.log; fail "resume"; }
  cmp two.jsonl int.jsonl || fail "two prompts: SIGINT + resume differs"
  caption 1 1 --images images --output int.jsonl --batch 3 --prompt "caption en" 2> changed.log &&
    fail "resuming with other prompts was accepted"
  grep -q "prompts.hash" changed.log || { cat changed.log; fail "the manifest error does not name the prompts"; }
  printf '%s\n' '{"image": "a.jpg", "prompt": "cap\u0000tion"}' > nul.jsonl
  caption 1 1 --requests nul.jsonl --output nul_out.jsonl 2> nul.log && fail "a NUL in a prompt was accepted"
  grep -q "nul.jsonl' line 1: a prompt holds a NUL character" nul.log || { cat nul.log; fail "NUL message"; }
  echo '{"image": "a.jpg", "prompts": []}' > bad.jsonl
  caption 1 1 --requests bad.jsonl --output bad_out.jsonl 2> bad.log && fail "an empty prompts array was accepted"
  grep -q "bad.jsonl' line 1: \"prompts\" is not a non-empty array" bad.log || { cat bad.log; fail "bad line message"; }
  ;;
output_flags)
  # --output checked before the job runs; --output - merges to standard output; --preprocess hf is
  # --resize bicubic; flag errors are usage errors (exit 106, no MPI_ABORT banner).
  caption 1 1 --images images --output ref.jsonl --batch 3 --resize bicubic 2> ref.log || { cat ref.log; fail "reference"; }
  mkdir -p outdir
  rc=0; caption 2 1 --images images --output outdir --batch 3 > dir.log 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || fail "--output naming a directory was accepted"
  grep -q "\-\-output 'outdir' is a directory" dir.log || { cat dir.log; fail "no clear --output message"; }
  ! grep -q "images/s" dir.log || { cat dir.log; fail "the job ran before --output was refused"; }
  [ ! -e outdir.parts ] || fail "outdir.parts was created"
  rc=0; caption 1 1 --images images --output newdir/ --batch 3 > newdir.log 2>&1 || rc=$?
  [ "$rc" -ne 0 ] && grep -q "\-\-output 'newdir/' names a directory" newdir.log || { cat newdir.log; fail "--output DIR/"; }
  [ ! -e newdir ] || fail "--output newdir/ created newdir before it was refused"
  caption 2 1 --images images --output - --batch 3 --preprocess hf > stdout.jsonl 2> stdout.log ||
    { cat stdout.log; fail "--output -"; }
  cmp ref.jsonl stdout.jsonl || fail "--output - --preprocess hf differs from --output FILE --resize bicubic"
  grep -q "wrote standard output: 17 records" stdout.log || { cat stdout.log; fail "summary"; }
  [ -d caption-stdout.parts ] && [ ! -e ./- ] || fail "--output - made a file named - or no caption-stdout.parts"
  for bad in "--preprocess hf --resize bilinear" "--vit bogus" "--preprocess pil"; do
    rc=0; caption 2 1 --images images --output bad.jsonl $bad > bad.log 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "$bad was accepted"
    ! grep -q "MPI_ABORT" bad.log || { cat bad.log; fail "$bad: MPI_ABORT banner for a usage error"; }
    grep -q "Run with --help" bad.log || { cat bad.log; fail "$bad: not reported as a usage error"; }
  done
  ;;
*)
  echo "caption_e2e.sh: unknown case '$case_name'" >&2; exit 2 ;;
esac
echo "PASS [$case_name]"
