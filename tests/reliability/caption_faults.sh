#!/usr/bin/env bash
# Fault injection into a running `paligemma caption` job (tiny test model, 4 ranks = 2 DP
# replicas x --tp 2, slowed to 150 ms per engine step so that a random kill point can land in
# any phase: start-up, load, ViT, prefill, decode, part-file append, merge).
#   caption_faults.sh CASE PALIGEMMA FIXTURE_DIR WORK_DIR
# CASE:
#   kill_roles  SIGKILL one rank of each role in turn (TP leader of replica 0 = world rank 0, its
#               TP follower, the leader and the follower of DP replica 1) at a random time,
#               PG_KILL_REPS times (default 20): mpirun must exit non-zero within 10 s naming the
#               rank; then --resume must produce output byte-identical to an uninterrupted run,
#               with no duplicate and no missing record. Prints one FIGURES line.
#   stop_rank   SIGSTOP a TP follower, then a DP replica's leader, mid-job: the collective
#               watchdog (PG_COLLECTIVE_TIMEOUT_S=3) of a peer fires, naming the op and its
#               sequence number, and the job ends within 3 s + 7 s; no rank is left behind.
#   rank_throws One rank throws (PG_DEBUG_FAIL_PHASE, dist/fault_injection.h) at each phase of
#               the job: loading the weights, allocating the KV cache (agreed phases: every rank
#               prints the same message, exit without MPI_Abort), and mid-run in the ViT, an
#               engine step (prefill/decode) and a leader's record append (MPI_Abort): the job
#               ends non-zero within 10 s naming the rank and the point; resume is byte-identical.
#   disk_full   The output directory is a 96 KiB tmpfs (private mount namespace) that fills up
#               mid-job: the job exits non-zero naming the file and "No space left on device";
#               after space is freed, resume completes byte-identical to the reference.
# Needs MPIRUN in the environment. Exits 77 (ctest: skipped) when a case's prerequisite is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../caption/caption_lib.sh"
caption_test_setup "$1" "$2" "$3" "$4"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# rank_pid MPIRUN_PID RANK: the pid of that world rank among mpirun's children ("" if none).
rank_pid() {
  local p
  for p in $(pgrep -P "$1" || true); do
    if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then echo "$p"; return; fi
  done
}

# wait_exit PID LIMIT_S: waits for a background job of this shell; sets $rc to its exit code,
# or to "hang" (after killing it and its children) when it still runs LIMIT_S seconds later.
wait_exit() {
  local pid="$1" limit="$2" t0
  t0=$(now)
  rc=0
  while kill -0 "$pid" 2>/dev/null; do
    if awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true; rc=hang; return
    fi
    sleep 0.02
  done
  wait "$pid" || rc=$?
}

# left_behind OUT: fails (status 1) while a process of the job writing OUT is still alive.
left_behind() { ! pgrep -f -- "--output $1( |$)" > /dev/null; }

# check_fault_exit WHAT LOG OUT LIMIT_S GREP_ARGS...: after wait_exit on a faulted job: it must
# have ended (not "hang") with a non-zero status, its LOG must match `grep -q GREP_ARGS`, and no
# process of the job writing OUT may be left.
check_fault_exit() {
  local what="$1" log="$2" out="$3" limit="$4"; shift 4
  [ "$rc" != hang ] || { cat "$log"; fail "$what: still running $limit s later"; }
  [ "$rc" != 0 ] || { cat "$log"; fail "$what: exit status 0"; }
  grep -q "$@" "$log" || { cat "$log"; fail "$what: no line of $log matches '${*: -1}'"; }
  sleep 0.2
  left_behind "$out" || fail "$what: processes of the job are left: $(pgrep -af -- "--output $out( |$)")"
}

# start_slow_job OUT LOG [env...]: the 4-rank job in the background; sets $job to mpirun's pid.
start_slow_job() {
  local out="$1" log="$2"; shift 2
  ([ $# -eq 0 ] || export "$@"; CAPTION_EXEC=1 PG_DEBUG_CAPTION_STEP_DELAY_MS=150 \
    caption 4 2 --images images --output "$out" --batch 2 > "$log" 2>&1) &
  job=$!
}

# resume_and_check OUT LOG RECORDED NP TP: resumes OUT; checks the skip count and the output.
resume_and_check() {
  local out="$1" log="$2" recorded="$3" np="$4" tp="$5"
  caption "$np" "$tp" --images images --output "$out" --batch 2 2> "$log" || { cat "$log"; fail "resume of $out"; }
  grep -q "$recorded already recorded" "$log" || { cat "$log"; fail "resume of $out did not skip $recorded records"; }
  cmp -s ref.jsonl "$out" || fail "resumed $out differs from the uninterrupted run"
  [ "$(part_lines "$out")" -eq "$n" ] || fail "$out.parts hold $(part_lines "$out") records for $n images"
}

caption 1 1 --images images --output ref.jsonl --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
check_records ref.jsonl
n=$(wc -l < ref.jsonl)

case "$case_name" in
kill_roles)
  reps="${PG_KILL_REPS:-20}"
  RANDOM="${PG_KILL_SEED:-2026}"
  roles=("TP leader of replica 0 (world rank 0)" "TP follower of replica 0" "TP leader of DP replica 1"
         "TP follower of DP replica 1")
  kills=0 attempts=0 late=0 max_s=0 sum_s=0 recomputed=0
  while [ "$kills" -lt "$reps" ]; do
    attempts=$((attempts + 1))
    [ "$attempts" -le $((3 * reps)) ] || fail "only $kills of $reps kill points landed before the job ended"
    rank=$((kills % 4))
    at_ms=$((50 + RANDOM % 4200))
    out="run$attempts.jsonl"
    start_slow_job "$out" "run$attempts.log"
    sleep "$(awk -v m="$at_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    victim=""
    for _ in $(seq 100); do
      victim=$(rank_pid "$job" "$rank")
      { [ -n "$victim" ] || ! kill -0 "$job" 2>/dev/null; } && break
      sleep 0.01
    done
    if [ -z "$victim" ] || ! kill -KILL "$victim" 2>/dev/null; then
      wait_exit "$job" 30
      [ "$rc" = 0 ] || { cat "run$attempts.log"; fail "the job failed without a fault (exit $rc)"; }
      late=$((late + 1)); continue  # finished before the kill point: not a kill
    fi
    t_kill=$(now)
    wait_exit "$job" 10
    t_exit=$(now)
    s=$(elapsed "$t_kill" "$t_exit")
    check_fault_exit "kill $((kills + 1)) (rank $rank at $at_ms ms)" "run$attempts.log" "$out" 10 \
      "process rank $rank with PID .* exited on signal 9"
    recorded=$(part_lines "$out")
    [ "$recorded" -le "$n" ] || fail "$out.parts hold $recorded records for $n images"
    recomputed=$((recomputed + n - recorded))
    # Resume on the same layout, or every other time on 2 replicas of --tp 1.
    if [ $((kills % 2)) -eq 0 ]; then resume_and_check "$out" "resume$attempts.log" "$recorded" 4 2
    else resume_and_check "$out" "resume$attempts.log" "$recorded" 2 1; fi
    echo "kill $((kills + 1))/$reps: rank $rank (${roles[$rank]}) at $at_ms ms: exit $rc after $s s," \
         "$recorded/$n records kept, resumed byte-identical"
    kills=$((kills + 1))
    sum_s=$(awk -v a="$sum_s" -v b="$s" 'BEGIN { print a + b }')
    max_s=$(awk -v a="$max_s" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
    rm -rf "$out" "$out.parts"
  done
  echo "FIGURES kill_roles: $kills SIGKILLs ($((reps / 4)) or more per role), exit after kill mean" \
       "$(awk -v a="$sum_s" -v k="$kills" 'BEGIN { printf "%.2f", a / k }') s, max $max_s s (limit 10 s);" \
       "0 hangs; records lost 0, duplicated 0; $recomputed images were pending at the kills (captioned on resume);" \
       "$late kill points fell after the job had ended"
  ;;
stop_rank)
  export PG_COLLECTIVE_TIMEOUT_S=3
  for rank in 1 2; do
    out="stop$rank.jsonl"
    start_slow_job "$out" "stop$rank.log" PG_COLLECTIVE_TIMEOUT_S=3
    for _ in $(seq 400); do [ "$(part_lines "$out")" -ge 2 ] && break; sleep 0.02; done
    victim=$(rank_pid "$job" "$rank")
    [ -n "$victim" ] || { cat "stop$rank.log"; fail "rank $rank is not running"; }
    kill -STOP "$victim"
    t_stop=$(now)
    wait_exit "$job" 10
    s=$(elapsed "$t_stop" "$(now)")
    kill -KILL "$victim" 2>/dev/null || true
    check_fault_exit "SIGSTOP of rank $rank" "stop$rank.log" "$out" 10 \
      -E '^\[rank [0-9]+\] collective [A-Za-z0-9]+ #[0-9]+ timed out after 3 s on communicator'
    echo "FIGURES stop_rank: SIGSTOP of rank $rank -> exit $rc after $s s (watchdog 3 s):" \
         "$(grep -Em1 'collective [A-Za-z0-9]+ #[0-9]+ timed out' "stop$rank.log")"
    resume_and_check "$out" "resume$rank.log" "$(part_lines "$out")" 4 2
  done
  ;;
rank_throws)
  # <point>:<world rank>[:<nth time>]  expected message
  faults=("load weights:2|phase 'load weights' failed on rank 2: injected failure"
          "allocate the KV cache:1|phase 'allocate the KV cache' failed on rank 1: injected failure"
          "caption vit:0:2|[rank 0] error: injected failure (PG_DEBUG_FAIL_PHASE) at 'caption vit' #2"
          "caption vit:3:1|[rank 3] error: injected failure (PG_DEBUG_FAIL_PHASE) at 'caption vit' #1"
          "caption step:1:7|[rank 1] error: injected failure (PG_DEBUG_FAIL_PHASE) at 'caption step' #7"
          "caption step:2:12|[rank 2] error: injected failure (PG_DEBUG_FAIL_PHASE) at 'caption step' #12"
          "caption record:0:3|[rank 0] error: injected failure (PG_DEBUG_FAIL_PHASE) at 'caption record' #3")
  i=0
  for f in "${faults[@]}"; do
    i=$((i + 1)); spec="${f%%|*}"; want="${f#*|}"; out="throw$i.jsonl"
    start_slow_job "$out" "throw$i.log" "PG_DEBUG_FAIL_PHASE=$spec"
    t0=$(now)
    wait_exit "$job" 20
    s=$(elapsed "$t0" "$(now)")
    if [[ "$want" == phase* ]] && [ "$(grep -cF "$want" "throw$i.log")" -ne 4 ]; then
      cat "throw$i.log"; fail "$spec: an agreed phase error must be printed by each of the 4 ranks"
    fi
    check_fault_exit "$spec" "throw$i.log" "$out" 20 -F "$want"
    echo "FIGURES rank_throws: $spec -> exit $rc, job ended $s s after it started: $(grep -F -m1 "$want" "throw$i.log")"
    resume_and_check "$out" "resume_throw$i.log" "$(part_lines "$out")" 4 2
  done
  ;;
disk_full)
  command -v unshare > /dev/null || { echo "SKIP: unshare (util-linux) is not installed"; exit 77; }
  if ! unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs "$1"' sh "$work" 2> unshare.log; then
    echo "SKIP: cannot mount a tmpfs in a private mount namespace here: $(cat unshare.log)"; exit 77
  fi
  mkdir -p full
  export case_name bin model tok work MPIRUN
  # In a private mount namespace: a 96 KiB tmpfs on full/, 92 KiB of it taken by a filler, so
  # the part files run out of space after a few records. The parts are copied out before the
  # namespace (and its tmpfs) goes away, to resume from them on the real disk.
  rc=0
  unshare -m bash -c '
    set -u
    mount -t tmpfs -o size=96k tmpfs full
    head -c $((92 * 1024)) /dev/zero > full/filler
    source "$0"
    caption 4 2 --images images --output full/out.jsonl --batch 2 > full.log 2>&1
    rc=$?
    cp -r full/out.jsonl.parts parts_at_enospc 2>/dev/null
    exit $rc' "$here/../caption/caption_lib.sh" || rc=$?
  [ "$rc" != 0 ] || { cat full.log; fail "the job succeeded on a full disk"; }
  grep -q "No space left on device" full.log || { cat full.log; fail "no ENOSPC message"; }
  grep -q "full/out.jsonl.parts/part-[0-9].jsonl" full.log || { cat full.log; fail "the message does not name the part file"; }
  mkdir -p resumed && cp -r parts_at_enospc resumed/out.jsonl.parts
  kept=$(part_lines resumed/out.jsonl)
  (cd resumed && ln -s ../images images && cp ../ref.jsonl ref.jsonl &&
    caption 4 2 --images images --output out.jsonl --batch 2 2> resume.log) || { cat resumed/resume.log; fail "resume"; }
  grep -q "$kept already recorded" resumed/resume.log || { cat resumed/resume.log; fail "resume did not skip $kept"; }
  cmp -s ref.jsonl resumed/out.jsonl || fail "resumed output differs from the uninterrupted run"
  echo "FIGURES disk_full: exit $rc on ENOSPC with $kept/$n records kept: $(grep -m1 'No space left' full.log)"
  ;;
*)
  echo "caption_faults.sh: unknown case '$case_name'" >&2; exit 2 ;;
esac
echo "PASS [$case_name]"
