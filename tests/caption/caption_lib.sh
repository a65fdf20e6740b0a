# Shell helpers shared by the caption end-to-end and fault tests:
#   caption_test_setup CASE PALIGEMMA FIXTURE_DIR WORK_DIR
#                            sets case_name, bin, fx, model, tok, work, MPIRUN (default mpirun);
#                            makes WORK_DIR afresh with a copy of the fixture's images (records
#                            name them images/...) and cd's there
#   fail MSG                 print "FAIL [case]: MSG" and exit 1
#   expected_list            the sorted image list the job must produce for $work/images
#   caption NP TP [args...]  `paligemma caption` under mpirun (MAX_NEW, CAPTION_EXEC: see below)
#   check_records OUT        one record per expected image, in order, "error" exactly for bad_*
#   part_lines OUT           records in OUT.parts/part-*.jsonl

caption_test_setup() {
  case_name="$1"; bin="$2"; fx="$3"; work="$4"
  MPIRUN="${MPIRUN:-mpirun}"
  model="$fx/model.h5"
  tok="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/assets/tokenizer/tiny.model"
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  cp -r "$fx/images" images
}

fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }

# The sorted input list the job must produce for images/ (hidden and non-image files skipped).
expected_list() {
  (cd "$work" && find images -path '*/.*' -prune -o -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -print) |
    LC_ALL=C sort
}

# caption NP TP [args...]: runs the job under mpirun (MAX_NEW: --max-new-tokens, default 8;
# CAPTION_EXEC=1: exec mpirun, so that a background subshell's $! is mpirun's pid; MPIRUN_ARGS:
# extra mpirun options, split on spaces).
caption() {
  local np="$1" tp="$2"; shift 2
  ${CAPTION_EXEC:+exec} "$MPIRUN" ${MPIRUN_ARGS:-} --oversubscribe --bind-to none -np "$np" "$bin" caption --model "$model" \
    --tokenizer "$tok" --tp "$tp" --max-new-tokens "${MAX_NEW:-8}" --progress lines "$@"
}

# check_records OUT: one record per expected image, in order, "error" exactly for bad_*.
check_records() {
  local out="$1" i=0 line path
  mapfile -t want < <(expected_list)
  [ "$(wc -l < "$out")" -eq "${#want[@]}" ] || fail "$out has $(wc -l < "$out") lines, expected ${#want[@]}"
  while IFS= read -r line; do
    path="${want[$i]}"
    case "$line" in
      "{\"image\":\"$path\",\"index\":$i,\"status\":"*) ;;
      *) fail "line $((i + 1)) of $out is not the record of $path (index $i): $line" ;;
    esac
    if [[ "$(basename "$path")" == bad_* ]]; then
      [[ "$line" == *'"status":"error","text":null,"tokens":0,"error":"image '"'$path'"* ]] ||
        fail "expected an error record naming $path: $line"
    else
      [[ "$line" =~ \"status\":\"ok\",\"text\":\".*\",\"tokens\":[0-8],\"eos\":(true|false),\"error\":null\}$ ]] ||
        fail "expected an ok record for $path: $line"
    fi
    i=$((i + 1))
  done < "$out"
}

part_lines() { { cat "$1".parts/part-*.jsonl 2>/dev/null || true; } | wc -l; }
