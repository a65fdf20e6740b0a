#!/usr/bin/env bash
# Bad inputs to `paligemma caption`, end to end under mpirun: each must end the job within
# 20 s with a non-zero exit (never a signal, never MPI_Abort for an input every rank sees the
# same), and one message naming the input printed by every rank. Then the inputs that are not
# errors but used to break things: an image whose file name is not UTF-8 (the record stores
# U+FFFD; merge and resume still match it by index) and a fixed prompt after a too-long one.
#   bad_inputs.sh PALIGEMMA FIXTURE_DIR WORK_DIR
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/../caption/caption_lib.sh"
caption_test_setup bad_inputs "$1" "$2" "$3"

# Inputs.
head -c 5000 "$model" > truncated.h5
cp "$tok" not_hdf5.h5
head -c 3000 "$tok" > truncated.model
printf 'hello\n' > garbage.model
: > empty.model
# A valid SentencePiece model with another vocabulary (300 pieces, not the model's 1664 rows).
if command -v spm_train > /dev/null; then
  for i in $(seq 200); do echo "a cat sits on a mat number $i while the dog runs away quickly"; done > corpus.txt
  spm_train --input=corpus.txt --model_prefix=other --vocab_size=60 --model_type=bpe \
    --minloglevel=2 > spm.log 2>&1 || { cat spm.log; fail "spm_train"; }
fi
mkdir -p empty_dir
printf 'x\n' > a_file
long_prompt="$(printf 'caption %.0s' $(seq 400))"

tried=0
# expect_error NAME NP TP EXPECTED [caption args...]: the job fails cleanly with EXPECTED.
expect_error() {
  local name="$1" np="$2" tp="$3" want="$4"; shift 4
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  timeout -s KILL 30 "$MPIRUN" --oversubscribe --bind-to none -np "$np" "$bin" caption --tp "$tp" \
    --progress off "$@" > "$name.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  tried=$((tried + 1))
  [ "$rc" -ne 0 ] || { cat "$name.log"; fail "$name: exit status 0"; }
  [ "$rc" -lt 128 ] || { cat "$name.log"; fail "$name: ended by a signal or the 30 s backstop (exit $rc)"; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a <= 20) }' || fail "$name: took more than 20 s"
  if grep -Eq 'Segmentation|Aborted|core dumped|exited on signal|terminate called' "$name.log"; then
    cat "$name.log"; fail "$name: crashed"
  fi
  if grep -q "MPI_ABORT was invoked" "$name.log"; then cat "$name.log"; fail "$name: MPI_Abort for an agreed error"; fi
  [ "$(grep -cF -- "$want" "$name.log")" -eq "$np" ] ||
    { cat "$name.log"; fail "$name: expected each of the $np ranks to print '$want'"; }
  echo "ok $name: $(grep -F -m1 -- "$want" "$name.log" | cut -c1-200)"
}

good=(--model "$model" --tokenizer "$tok" --images images)
expect_error missing_model 2 1 "checkpoint 'nope.h5': no such file" --model nope.h5 --tokenizer "$tok" --images images --output o.jsonl
expect_error truncated_model 2 2 "checkpoint 'truncated.h5': cannot open as HDF5 (truncated or corrupt?)" \
  --model truncated.h5 --tokenizer "$tok" --images images --output o.jsonl
expect_error not_hdf5 2 1 "checkpoint 'not_hdf5.h5' is not an HDF5 file" --model not_hdf5.h5 --tokenizer "$tok" --images images --output o.jsonl
expect_error truncated_tokenizer 2 2 "tokenizer file 'truncated.model' (3000 bytes) is not a valid SentencePiece model" \
  --model "$model" --tokenizer truncated.model --images images --output o.jsonl
expect_error garbage_tokenizer 2 1 "tokenizer file 'garbage.model' (6 bytes) is not a valid SentencePiece model" \
  --model "$model" --tokenizer garbage.model --images images --output o.jsonl
expect_error empty_tokenizer 2 1 "tokenizer file 'empty.model' is empty" --model "$model" --tokenizer empty.model --images images --output o.jsonl
if [ -f other.model ]; then
  expect_error other_tokenizer 2 2 "other.model" --model "$model" --tokenizer other.model --images images --output o.jsonl
fi
expect_error prompt_too_long 2 2 "exceeds max_seq_len 272" "${good[@]}" --output long.jsonl --prompt "$long_prompt"
expect_error prompt_not_utf8 2 1 "--prompt is not valid UTF-8 (invalid UTF-8 byte at index 8: 0xFF)" "${good[@]}" \
  --output o.jsonl --prompt $'caption \xff\xfe en'
expect_error max_new_tokens_zero 2 1 "--max-new-tokens must be >= 1, got 0" "${good[@]}" --output o.jsonl --max-new-tokens 0
expect_error max_new_tokens_huge 2 2 "100000 new tokens" "${good[@]}" --output huge.jsonl --max-new-tokens 100000
expect_error batch_zero 2 1 "--batch must be >= 1, got 0" "${good[@]}" --output o.jsonl --batch 0
expect_error temperature_negative 2 1 "temperature must be >= 0 (0 = greedy); got -1" "${good[@]}" --output o.jsonl --temperature -1
expect_error top_p_above_one 2 1 "top_p must be in (0, 1] (1 = off); got 2" "${good[@]}" --output o.jsonl --top-p 2
expect_error unknown_resize 2 1 "bicubicc" "${good[@]}" --output o.jsonl --resize bicubicc
expect_error unknown_backend 2 1 "unknown backend 'tpu'" "${good[@]}" --output o.jsonl --backend tpu
expect_error tp_not_dividing_world 3 2 "--tp 2 does not divide the world size 3" "${good[@]}" --output o.jsonl
expect_error tp_not_dividing_heads 3 3 "4 query heads are not divisible by --tp 3" "${good[@]}" --output o.jsonl
expect_error missing_images 2 1 "--images 'nodir' does not exist" --model "$model" --tokenizer "$tok" --images nodir --output o.jsonl
expect_error empty_image_dir 2 1 "--images 'empty_dir': no image files in the directory" --model "$model" --tokenizer "$tok" \
  --images empty_dir --output o.jsonl
expect_error output_under_a_file 2 1 "--output 'a_file/sub/o.jsonl': cannot create the directory 'a_file/sub': Not a directory" "${good[@]}" --output a_file/sub/o.jsonl

# A too-long prompt must not have left a manifest that blocks the corrected run.
caption 2 2 --images images --output long.jsonl 2> long_fixed.log || { cat long_fixed.log; fail "the corrected prompt was refused"; }
check_records long.jsonl

# A file name that is not UTF-8: captioned, recorded with U+FFFD plus its bytes in base64
# (image_bytes_b64, docs/OUTPUT.md), merged, and skipped on resume.
mkdir -p latin1
cp images/rgb_37x23.png latin1/a.png
cp images/rgb_37x23.png "latin1/caf$(printf '\xe9').png"
caption 2 2 --images latin1 --output latin1.jsonl 2> latin1.log || { cat latin1.log; fail "non-UTF-8 file name"; }
grep -qF '"image":"latin1/caf'$'\xef\xbf\xbd''.png","image_bytes_b64":"'"$(printf 'latin1/caf\xe9.png' | base64 -w0)"'","index":1,"status":"ok"' latin1.jsonl || { cat latin1.jsonl; fail "record of the non-UTF-8 name"; }
caption 1 1 --images latin1 --output latin1.jsonl 2> latin1_again.log || { cat latin1_again.log; fail "resume with a non-UTF-8 name"; }
grep -q "2 already recorded" latin1_again.log || { cat latin1_again.log; fail "the resume did not match the record"; }
echo "FIGURES bad_inputs: $tried bad inputs, each a clean non-zero exit with a message naming it on every rank; 0 crashes, 0 hangs"
echo "PASS [bad_inputs]"
