#!/usr/bin/env bash
# Runs a command that must FAIL quickly and say why:
#   expect_failure.sh --max-seconds S [--expect REGEX COUNT]... -- COMMAND [ARGS...]
# Passes when COMMAND exits non-zero (and was not killed by our backstop timeout) within S
# seconds, and for each --expect the number of output lines (stdout+stderr) matching the
# extended REGEX is COUNT ("4") or at least N ("1+").
set -uo pipefail

max_seconds=""
regexes=()
counts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --max-seconds) max_seconds="$2"; shift 2 ;;
    --expect) regexes+=("$2"); counts+=("$3"); shift 3 ;;
    --) shift; break ;;
    *) echo "expect_failure.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ -z "$max_seconds" ] || [ $# -eq 0 ]; then
  echo "usage: expect_failure.sh --max-seconds S [--expect REGEX COUNT]... -- COMMAND..." >&2
  exit 2
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
# Backstop: a hang shows up as a failed test, not a stuck CI.
backstop=$((max_seconds * 3))
timeout -k 5 "$backstop" "$@" >"$log" 2>&1
rc=$?
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')

echo "---- output of: $* ----"
cat "$log"
echo "---- exit code $rc after ${elapsed} s (limit ${max_seconds} s) ----"

fail=0
if [ "$rc" -eq 0 ]; then echo "FAIL: the command succeeded; it must fail"; fail=1; fi
# 124/137 also come from mpirun itself (a rank killed by SIGKILL): only a run that lasted
# until the backstop is a hang.
if awk -v e="$elapsed" -v b="$backstop" 'BEGIN { exit !(e >= b) }'; then
  echo "FAIL: the command hung (killed by the ${backstop} s backstop)"; fail=1
fi
if awk -v e="$elapsed" -v m="$max_seconds" 'BEGIN { exit !(e > m) }'; then
  echo "FAIL: took ${elapsed} s, more than ${max_seconds} s"; fail=1
fi
for i in "${!regexes[@]}"; do
  n=$(grep -cE -- "${regexes[$i]}" "$log")
  want="${counts[$i]}"
  if [[ "$want" == *+ ]]; then
    ok=$([ "$n" -ge "${want%+}" ] && echo 1 || echo 0)
  else
    ok=$([ "$n" -eq "$want" ] && echo 1 || echo 0)
  fi
  if [ "$ok" -ne 1 ]; then
    echo "FAIL: ${n} lines match '${regexes[$i]}', expected ${want}"; fail=1
  else
    echo "ok: ${n} lines match '${regexes[$i]}'"
  fi
done
[ "$fail" -eq 0 ] && echo "PASS" || exit 1
