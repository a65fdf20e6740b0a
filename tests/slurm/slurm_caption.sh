#!/usr/bin/env bash
# `paligemma caption` under a real Slurm (slurmctld + slurmd started here, tests/slurm/slurm_cluster.sh)
# through launch/slurm/caption.sbatch, the script docs/SLURM.md shows, on the tiny test model.
#   slurm_caption.sh CASE PALIGEMMA FIXTURE_DIR WORK_DIR
# CASE:
#   launchers  sbatch with mpirun and with srun --mpi=pmix (2 replicas x --tp 2): output
#              byte-identical to a single-process run; srun --mpi=pmi2 fails (Debian's Open MPI
#              has no PMI-1/2 support) with Open MPI's message saying so; a bad PG_LAUNCHER and
#              an array over a directory fail with a message naming them
# requeue and scancel run with the launcher PG_LAUNCHER (mpirun or srun, caption.sbatch).
#   requeue    `scontrol requeue` mid-job: the ranks stop on SIGTERM keeping their records, the
#              job restarts, resumes and its merged output is byte-identical to the reference
#   scancel    `scancel` mid-job: the script and the ranks exit cleanly (no SIGKILL), every
#              committed record is intact; the rerun completes byte-identically
#   array      a job array of 3 elements (PG_ARRAY_CHUNK=4) over chunks of a list + a merge job (afterok): one output
#              byte-identical to a single run over the whole list
# Exits 77 (ctest: skipped) with the reason when the daemons cannot start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../caption/caption_lib.sh"
source "$here/slurm_cluster.sh"
caption_test_setup "$1" "$2" "$3" "$4"
sbatch_script="$here/../../launch/slurm/caption.sbatch"
export PALIGEMMA="$bin"

slurm_cluster_start "$work/cluster" 8
cluster_logs() { tail -n 20 "$work/cluster/log/slurmctld.log" "$work/cluster/log/slurmd.log" >&2 || true; }
fail_job() { cat "$1" >&2 || true; cluster_logs; fail "${*:2}"; }

# submit LOG TASKS [caption options]: sbatch caption.sbatch on TASKS tasks of the one node; prints the job id.
submit() {
  local log="$1" tasks="$2"; shift 2
  sbatch --parsable --chdir="$work" --output="$log" --nodes=1 --ntasks="$tasks" "$sbatch_script" \
    --model "$model" --tokenizer "$tok" --max-new-tokens 8 --progress lines "$@"
}
# wait_done JOB LOG SECS: until the job has left the queue; fails naming the job otherwise.
wait_done() { slurm_wait_state "$1" GONE "$3" || { scancel "$1" 2> /dev/null; fail_job "$2" "job $1 did not end"; }; }
# wait_parts OUT N LOG: until N records are committed in OUT.parts/ (the job still running).
wait_parts() {
  for _ in $(seq 600); do [ "$(part_lines "$1")" -ge "$2" ] && return 0; sleep 0.05; done
  fail_job "$3" "no $2 records appeared in $1.parts/"
}
exit_code() { slurm_job_field "$1" ExitCode; }
# The slowed jobs that get signalled run each rank under rank_status.sh: rank-R.err, rank-R.status.
slowed() { PG_DEBUG_CAPTION_STEP_DELAY_MS=150 PALIGEMMA="$here/rank_status.sh" PG_REAL_BIN="$bin" "$@"; }
# stopped_gracefully LOG N: every one of N ranks' first run ended with exit 143 (its own graceful
# SIGTERM path, not a second signal nor SIGKILL); prints the records rank 0 says it kept.
stopped_gracefully() {
  local log="$1" np="$2" r
  for r in $(seq 0 $((np - 1))); do
    [ "$(head -1 "rank-$r.status" 2> /dev/null)" = "exit 143" ] ||
      fail_job "$log" "rank $r did not stop gracefully: $(cat "rank-$r.status" 2> /dev/null || echo no status); $(tail -3 "rank-$r.err" 2> /dev/null)"
  done
  sed -n "s/^caption: interrupted by SIGTERM: \([0-9]*\) of $n images are recorded.*/\1/p" rank-0.err | head -1
}
# no_rank_errors LOG: no rank printed an error (Slurm's own "error: *** JOB CANCELLED" lines aside).
no_rank_errors() {
  ! cat rank-*.err "$1" 2> /dev/null | grep -v -E '^(slurmstepd|srun)' | grep -q "error:" ||
    fail_job "$1" "a rank printed an error: $(cat rank-*.err | grep "error:" | head -3)"
}

caption 1 1 --images images --output ref.jsonl --batch 2 2> ref.log || { cat ref.log; fail "reference run"; }
check_records ref.jsonl
n=$(wc -l < ref.jsonl)

case "$case_name" in
launchers)
  job=$(submit mpirun.log 4 --tp 2 --batch 2 --images images --output mpirun.jsonl)
  wait_done "$job" mpirun.log 120
  [ "$(exit_code "$job")" = "0:0" ] || fail_job mpirun.log "mpirun job $job exit $(exit_code "$job")"
  grep -q "on 2 replicas x --tp 2" mpirun.log || fail_job mpirun.log "the job did not run 2 replicas x --tp 2"
  cmp ref.jsonl mpirun.jsonl || fail "sbatch + mpirun output differs from the single-process run"
  job=$(PG_LAUNCHER=srun submit srun.log 4 --tp 2 --batch 3 --images images --output srun.jsonl)
  wait_done "$job" srun.log 120
  [ "$(exit_code "$job")" = "0:0" ] || fail_job srun.log "srun --mpi=pmix job $job exit $(exit_code "$job")"
  grep -q "on 2 replicas x --tp 2" srun.log || fail_job srun.log "the srun job did not run 2 replicas x --tp 2"
  cmp ref.jsonl srun.jsonl || fail "sbatch + srun --mpi=pmix output differs from the single-process run"
  # Bad settings fail the job at once with a message naming them.
  job=$(PG_LAUNCHER=mpiexec submit bad_launcher.log 1 --images images --output bad.jsonl)
  wait_done "$job" bad_launcher.log 60
  [ "$(exit_code "$job")" = "2:0" ] && grep -q "PG_LAUNCHER='mpiexec' is neither mpirun nor srun" bad_launcher.log ||
    fail_job bad_launcher.log "a bad PG_LAUNCHER: exit $(exit_code "$job")"
  job=$(sbatch --parsable --chdir="$work" --output=bad_array.log --array=0-1 --ntasks=1 "$sbatch_script" \
    --images images --output bad.jsonl)
  wait_done "$job" bad_array.log 60
  grep -q "a job array needs --images LIST, a list file ('images' is not one)" bad_array.log ||
    fail_job bad_array.log "an array over a directory was not refused"
  # PMI-2: Slurm has it, Debian's Open MPI 4.1 was not built with it (only PMIx: ompi_info's pmix ext3x).
  rc=0
  timeout 60 srun --mpi=pmi2 --ntasks=2 "$bin" caption --model "$model" --tokenizer "$tok" --images images \
    --output pmi2.jsonl > pmi2.log 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    cmp ref.jsonl pmi2.jsonl || fail "srun --mpi=pmi2 ran but its output differs"
    echo "note: srun --mpi=pmi2 works with this Open MPI (built with PMI-2); update docs/SLURM.md"
  else
    grep -q "OMPI was not built with SLURM's PMI support" pmi2.log ||
      { cat pmi2.log; fail "srun --mpi=pmi2 failed (exit $rc) for another reason than the known one"; }
    echo "srun --mpi=pmi2: fails as documented (Open MPI without PMI-2 support), exit $rc"
  fi
  ;;
requeue)
  # 150 ms per engine step so that the requeue lands mid-run.
  job=$(slowed submit job.log 4 --tp 2 --batch 2 --images images --output out.jsonl)
  wait_parts out.jsonl 3 job.log
  scontrol requeue "$job" || fail_job job.log "scontrol requeue $job failed"
  t0=$(date +%s)
  # The requeued job may start again cred_expire (10 s, slurm_cluster.sh) after it ended.
  for _ in $(seq 600); do [ "$(slurm_job_field "$job" Restarts)" = 1 ] && break; sleep 0.1; done
  [ "$(slurm_job_field "$job" Restarts)" = 1 ] || fail_job job.log "job $job was not requeued"
  wait_done "$job" job.log 180
  [ "$(exit_code "$job")" = "0:0" ] || fail_job job.log "requeued job $job exit $(exit_code "$job")"
  echo "requeue: job $job restarted and ended $(( $(date +%s) - t0 )) s after the requeue"
  grep -q "caption.sbatch: job $job start 1 " job.log || fail_job job.log "no second start in the job log"
  kept=$(stopped_gracefully job.log 4)
  [ -n "$kept" ] || fail_job job.log "rank 0 did not report the records kept: $(tail -3 rank-0.err)"
  for r in 0 1 2 3; do
    [ "$(sed -n 2p "rank-$r.status")" = "exit 0" ] || fail_job job.log "rank $r of the second start: $(cat "rank-$r.status")"
  done
  [ "$kept" -ge 3 ] && [ "$kept" -lt "$n" ] || fail_job job.log "the requeue did not land mid-run: $kept of $n kept"
  grep -q "^caption: $n images, $kept already recorded" rank-0.err || fail_job job.log "the restart did not resume $kept records"
  no_rank_errors job.log
  cmp ref.jsonl out.jsonl || fail "requeued output differs from the uninterrupted run"
  [ "$(part_lines out.jsonl)" -eq "$n" ] || fail "part files hold $(part_lines out.jsonl) records for $n images"
  echo "requeue: $kept of $n records kept by the first start, the second resumed; output byte-identical"
  ;;
scancel)
  job=$(slowed submit job.log 4 --tp 2 --batch 2 --images images --output out.jsonl)
  wait_parts out.jsonl 3 job.log
  t0=$(date +%s%N)
  scancel "$job" || fail_job job.log "scancel $job failed"
  wait_done "$job" job.log 60
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # Slurm sends SIGKILL KillWait (30 s) after SIGTERM: a clean stop is before that (mpirun's
  # orteds wait odls_base_sigkill_timeout, 10 s in caption.sbatch, before they end).
  [ "$ms" -lt 28000 ] || fail_job job.log "the cancelled job took $ms ms to end"
  [ "$(slurm_job_field "$job" JobState)" = CANCELLED ] || fail_job job.log "job $job is $(slurm_job_field "$job" JobState)"
  kept=$(stopped_gracefully job.log 4)
  [ -n "$kept" ] || fail_job job.log "rank 0 did not report the records kept: $(tail -3 rank-0.err)"
  grep -q "caption.sbatch: job $job launcher exit" job.log || fail_job job.log "the batch script was killed before its launcher ended"
  no_rank_errors job.log
  [ ! -e out.jsonl ] || fail "the cancelled job wrote out.jsonl"
  [ "$(part_lines out.jsonl)" -eq "$kept" ] || fail "$kept records reported, $(part_lines out.jsonl) in out.jsonl.parts/"
  [ "$kept" -ge 3 ] && [ "$kept" -lt "$n" ] || fail "scancel did not land mid-run: $kept of $n kept"
  # Every committed record is whole and is the reference's record of the same index.
  while IFS= read -r line; do
    i=$(sed -n 's/.*,"index":\([0-9]*\),"status".*/\1/p' <<< "$line")
    [ -n "$i" ] && [ "$(sed -n "$((i + 1))p" ref.jsonl)" = "$line" ] || fail "kept record differs from the reference: $line"
  done < <(cat out.jsonl.parts/part-*.jsonl)
  job=$(submit rerun.log 2 --tp 1 --batch 3 --images images --output out.jsonl)
  wait_done "$job" rerun.log 120
  grep -q "^caption: $n images, $kept already recorded" rerun.log || fail_job rerun.log "the rerun did not resume $kept records"
  cmp ref.jsonl out.jsonl || fail "scancel + rerun differs from the uninterrupted run"
  echo "scancel: stopped in $ms ms with $kept of $n records committed; the rerun completed byte-identically"
  ;;
array)
  # A list of 37 entries (every image twice, a missing file, two more; a BOM, comments, blank and
  # padded lines, a CR),
  # 3 array elements over chunks of 4 entries, then the merge as a job that depends on the array.
  mkdir -p lists
  { printf '\357\273\277# a list with a BOM\n'
    expected_list | sed 's|^|../|'
    printf '\n  ../images/does_not_exist.png\n# comment\n'
    expected_list | sed 's|^|\t../|'; printf '../images/rgb_37x23.png\r\n../images/./la_11x9.png\n'
  } > lists/big.txt
  caption 1 1 --images lists/big.txt --output big_ref.jsonl --batch 3 2> big_ref.log || { cat big_ref.log; fail "list reference run"; }
  nbig=$(wc -l < big_ref.jsonl)
  [ "$nbig" -eq $((2 * n + 3)) ] || fail "the list reference has $nbig records, expected $((2 * n + 3))"
  grep -q '"image":"images/does_not_exist.png","index":17,"status":"error"' big_ref.jsonl || fail "list reference: $(sed -n 18p big_ref.jsonl)"
  job=$(PG_ARRAY_CHUNK=4 sbatch --parsable --chdir="$work" --output="array-%a.log" --array=0-2 --ntasks=2 \
    "$sbatch_script" --model "$model" --tokenizer "$tok" --max-new-tokens 8 --progress lines --tp 1 --batch 2 \
    --images lists/big.txt --output big.jsonl)
  merge=$(sbatch --parsable --chdir="$work" --output=merge.log --dependency="afterany:$job" --ntasks=1 \
    --wrap "bash '$here/../../launch/slurm/merge_shards.sh' big.jsonl")
  wait_done "$merge" merge.log 240
  [ "$(exit_code "$merge")" = "0:0" ] || fail_job merge.log "merge job $merge exit $(exit_code "$merge"); $(cat array-*.log)"
  for i in 0 1 2; do
    grep -q "array element $i of 3: [0-9]* entries" "array-$i.log" || fail_job "array-$i.log" "element $i did not run its shard"
  done
  cmp big_ref.jsonl big.jsonl || fail "merged array output differs from the single run over the list"
  # Refusals name the file: an element's output cut short, a missing element.
  cp big.jsonl.shards/shard-1.jsonl shard-1.saved
  head -n 2 shard-1.saved > big.jsonl.shards/shard-1.jsonl
  rc=0; bash "$here/../../launch/slurm/merge_shards.sh" big.jsonl 2> merge_cut.log || rc=$?
  [ "$rc" -eq 1 ] && grep -q "shard-1.jsonl has 2 records, lists/big.txt.shard-1-of-3 [0-9]* entries" merge_cut.log ||
    { cat merge_cut.log; fail "merge of a cut shard: exit $rc"; }
  cp shard-1.saved big.jsonl.shards/shard-1.jsonl
  rm big.jsonl.shards/layout.2
  rc=0; bash "$here/../../launch/slurm/merge_shards.sh" big.jsonl 2> merge_missing.log || rc=$?
  [ "$rc" -eq 1 ] && grep -q "layout.2 is missing: array element 2 of 3 has not run" merge_missing.log ||
    { cat merge_missing.log; fail "merge with an element missing: exit $rc"; }
  echo "array: 3 elements x chunks of 4 over $nbig entries merged byte-identically to a single run"
  ;;
*)
  echo "slurm_caption.sh: unknown case '$case_name'" >&2; exit 2 ;;
esac
echo "PASS [$case_name]"
