# A throw-away Slurm cluster on this machine for the Slurm tests (source this file):
# munged with a fresh key, slurmctld and one slurmd (node pgnode0, NodeAddr 127.0.0.1), all as
# root, all state under one directory, ports picked free on 127.0.0.1. No cgroups:
# proctrack/linuxproc (the job's processes are found by parentage), task/none, no accounting.
#   slurm_cluster_start DIR CPUS   starts the daemons (DIR is made afresh) and exports SLURM_CONF;
#                                  exits 77 (ctest: skipped) with the reason printed when the
#                                  daemons cannot start; registers slurm_cluster_stop on EXIT
#   slurm_cluster_stop             stops every daemon it started (also on failure: EXIT trap)
#   slurm_wait_state JOB STATES SECS   waits until `squeue` shows JOB in one of STATES ("R|PD"),
#                                  or, for the state "GONE", until the job has ended
#   slurm_job_field JOB FIELD      one field of `scontrol show job` (e.g. JobState, Restarts)
# Needs Debian's slurm-wlm and munge (scripts/install_deps.sh).

slurm_skip() { echo "SKIP: $*"; exit 77; }

# A TCP port nobody listens on, from a range keyed by this shell's pid.
_slurm_free_port() {
  local p=$(( 20000 + ($$ * 7 + $1 * 101) % 30000 ))
  while [ -n "$(ss -Hltn "sport = :$p" 2> /dev/null)" ]; do p=$((p + 1)); done
  echo "$p"
}

slurm_cluster_stop() {
  local f pid d="${SLURM_DIR:-}"
  [ -n "$d" ] || return 0
  SLURM_DIR=""
  [ -z "${SLURM_WATCHDOG:-}" ] || kill -KILL "$SLURM_WATCHDOG" 2> /dev/null || true
  # Jobs first (their processes get SIGTERM, then SIGKILL after KillWait), then the daemons.
  scancel --full --signal=KILL --user=root 2> /dev/null || true
  for f in slurmd slurmctld munged; do
    pid=$(cat "$d/$f.pid" 2> /dev/null || true)
    [ -n "$pid" ] && kill -TERM "$pid" 2> /dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2> /dev/null || true
  done
  # What is left of the jobs: slurmstepd and the tasks carry SLURM_CONF=<this cluster's config>.
  for f in /proc/[0-9]*/environ; do
    pid=${f#/proc/}; pid=${pid%/environ}
    [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] || continue
    { tr '\0' '\n' < "$f"; } 2> /dev/null | grep -qxF "SLURM_CONF=$d/slurm.conf" && kill -KILL "$pid" 2> /dev/null
  done
  return 0
}

slurm_cluster_start() {
  local dir="$1" cpus="$2"
  [ "$(id -u)" -eq 0 ] || slurm_skip "the test cluster runs its daemons as root (uid $(id -u))"
  local t
  for t in munged slurmctld slurmd sbatch scontrol squeue ss; do
    command -v "$t" > /dev/null || slurm_skip "$t is not installed (Debian slurm-wlm, munge, iproute2)"
  done
  rm -rf "$dir" && mkdir -p "$dir"/{munge,state,spool,log} && chmod 755 "$dir" "$dir/munge"
  SLURM_DIR="$(cd "$dir" && pwd)"
  trap slurm_cluster_stop EXIT
  # The EXIT trap does not run when the test is killed (ctest's timeout): a watchdog stops the
  # cluster once this shell is gone.
  local self=$$
  ( trap '' TERM INT HUP
    while kill -0 "$self" 2> /dev/null; do sleep 1; done
    SLURM_WATCHDOG="" slurm_cluster_stop ) > /dev/null 2>&1 < /dev/null &
  SLURM_WATCHDOG=$!
  disown "$SLURM_WATCHDOG"  # no "Killed" notice when slurm_cluster_stop ends it
  local d="$SLURM_DIR"
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$d/munge/munge.key"
  munged --force --socket="$d/munge/socket" --key-file="$d/munge/munge.key" --log-file="$d/log/munged.log" \
    --pid-file="$d/munged.pid" --seed-file="$d/munge/seed" > "$d/log/munged.out" 2>&1 ||
    slurm_skip "munged does not start: $(cat "$d/log/munged.out" "$d/log/munged.log" 2> /dev/null | tail -3)"
  local ctld_port slurmd_port
  ctld_port=$(_slurm_free_port 1); slurmd_port=$(_slurm_free_port 2)
  cat > "$d/slurm.conf" <<CONF
ClusterName=pgtest
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$d/munge/socket,cred_expire=10
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
# The main scheduling pass every 2 s (default 60): a requeued job starts soon after it may.
SchedulerParameters=sched_interval=2
# The node claims CPUS CPUs whatever the hardware has (several ranks on a 2-core CI machine).
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
KillWait=30
MinJobAge=600
NodeName=pgnode0 NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=pgnode0 Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$d/slurm.conf"
  slurmctld -f "$SLURM_CONF" > "$d/log/slurmctld.out" 2>&1 ||
    slurm_skip "slurmctld does not start: $(tail -3 "$d/log/slurmctld.out" "$d/log/slurmctld.log" 2> /dev/null)"
  slurmd -f "$SLURM_CONF" -N pgnode0 > "$d/log/slurmd.out" 2>&1 ||
    slurm_skip "slurmd does not start: $(tail -3 "$d/log/slurmd.out" "$d/log/slurmd.log" 2> /dev/null)"
  for _ in $(seq 200); do
    sinfo -h -N -o '%T' 2> /dev/null | grep -q '^idle' && break
    sleep 0.1
  done
  sinfo -h -N -o '%T' 2> /dev/null | grep -q '^idle' ||
    slurm_skip "node pgnode0 is not idle after 20 s: $(sinfo -N 2>&1 | tail -1); $(tail -3 "$d/log/slurmd.log")"
  echo "slurm test cluster up in $d: slurmctld :$ctld_port, slurmd :$slurmd_port, $cpus CPUs"
}

slurm_job_field() {
  scontrol show job "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

slurm_wait_state() {
  local job="$1" states="$2" secs="$3" st
  for _ in $(seq $((secs * 10))); do
    st=$(squeue -h -j "$job" -o '%t' 2> /dev/null || true)
    if [ "$states" = GONE ]; then [ -z "$st" ] && return 0
    elif [ -n "$st" ] && [[ "$st" =~ ^($states)$ ]]; then return 0; fi
    sleep 0.1
  done
  echo "job $job: state '${st:-gone}' after $secs s, waited for $states" >&2
  return 1
}
