#!/usr/bin/env bash
# A real multi-host run of `paligemma caption`: two hosts made of network namespaces joined by
# a veth pair (10.N.0.1 = host A, 10.N.0.2 = host B, each with its own hostname via a private UTS
# namespace), Open MPI's rsh launcher pointed at netns_rsh_agent.sh (`ip netns exec`) instead of
# ssh, and TCP as the only transport (btl self,tcp; OOB and BTL restricted to the veth subnet).
#   netns_hosts.sh PALIGEMMA FIXTURE_DIR WORK_DIR
# Runs on 4 ranks (2 per host), the tiny test model:
#   1. TP across hosts (--map-by node: each --tp 2 group has one rank on A and one on B) and DP
#      across hosts (--map-by slot: replica 0 on A, replica 1 on B): output byte-identical to a
#      single-process run.
#   2. Host B is killed mid-job (SIGKILL to every process in its namespace: orted and ranks): the
#      job must end non-zero within 10 s; the resumed job (both hosts) must complete with output
#      byte-identical to the reference, nothing lost, nothing duplicated.
# Exits 77 (ctest: skipped) with the reason when namespaces cannot be made (not root, no
# iproute2/unshare, no CAP_NET_ADMIN / CAP_SYS_ADMIN in a container).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../caption/caption_lib.sh"
caption_test_setup netns_hosts "$1" "$2" "$3"
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (uid $(id -u))"
command -v ip > /dev/null || skip "ip (Debian iproute2) is not installed"
command -v unshare > /dev/null || skip "unshare (util-linux) is not installed"
MPIRUN_REAL="${MPIRUN:-mpirun}"
command -v "$MPIRUN_REAL" > /dev/null || skip "no mpirun"

# Unique names per run: namespaces and links are global to the machine.
id=$(( $$ % 200 + 20 ))
ns_a="pg${id}a"; ns_b="pg${id}b"
ip_a="10.$id.0.1"; ip_b="10.$id.0.2"
cleanup() {
  for ns in "$ns_a" "$ns_b"; do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
ip netns add "$ns_a" 2> netns.log || skip "cannot create a network namespace: $(cat netns.log)"
ip netns add "$ns_b"
ip link add "${ns_a}v" type veth peer name "${ns_b}v" 2> netns.log || skip "cannot create a veth pair: $(cat netns.log)"
ip link set "${ns_a}v" netns "$ns_a"
ip link set "${ns_b}v" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "${ns_a}v"
ip -n "$ns_b" addr add "$ip_b/24" dev "${ns_b}v"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; ip -n "$ns" link set "${ns}v" up; done
unshare -u true 2> netns.log || skip "cannot create a UTS namespace: $(cat netns.log)"

# The rsh agent Open MPI runs to start its daemon on a host: IP -> namespace.
cat > hosts.map <<MAP
$ip_a $ns_a
$ip_b $ns_b
MAP
printf '%s slots=2\n%s slots=2\n' "$ip_a" "$ip_b" > hostfile
# MPIRUN for caption(): mpirun itself runs on host A.
cat > mpirun_on_a.sh <<RUN
#!/usr/bin/env bash
exec ip netns exec "$ns_a" unshare -u sh -c 'hostname host-a; exec "\$@"' sh "$MPIRUN_REAL" \\
  --hostfile "$work/hostfile" --mca plm_rsh_agent "$here/netns_rsh_agent.sh" --mca plm_rsh_no_tree_spawn 1 \\
  --mca oob_tcp_if_include "10.$id.0.0/24" --mca btl self,tcp --mca btl_tcp_if_include "10.$id.0.0/24" "\$@"
RUN
chmod +x mpirun_on_a.sh
export PG_NETNS_HOSTS_MAP="$work/hosts.map"

MPIRUN="$MPIRUN_REAL" caption 1 1 --images images --output ref.jsonl --batch 2 2> ref.log ||
  { cat ref.log; fail "reference run"; }
check_records ref.jsonl
n=$(wc -l < ref.jsonl)
MPIRUN="$work/mpirun_on_a.sh"

# Where each rank ran, as the ranks see it (hostname and the address of the veth).
"$MPIRUN" -np 4 --map-by node sh -c \
  'echo "rank $OMPI_COMM_WORLD_RANK on $(hostname)"' > placement.log 2>&1 || { cat placement.log; fail "placement run"; }
grep -q "rank 1 on host-b" placement.log || { cat placement.log; fail "rank 1 did not run on host B"; }
echo "placement (--map-by node): $(LC_ALL=C sort placement.log | tr '\n' ';')"

for layout in "node tp_across_hosts" "slot dp_across_hosts"; do
  set -- $layout
  MPIRUN_ARGS="--map-by $1" caption 4 2 --images images --output "$2.jsonl" --batch 2 2> "$2.log" ||
    { cat "$2.log"; fail "$2 run"; }
  cmp -s ref.jsonl "$2.jsonl" || fail "$2: output differs from the single-process run"
  echo "$2 (--map-by $1): byte-identical to the single-process run"
done

# Kill host B mid-job (TP across hosts, slowed down so that the kill lands while decoding).
(CAPTION_EXEC=1 MPIRUN_ARGS="--map-by node" PG_DEBUG_CAPTION_STEP_DELAY_MS=150 \
  caption 4 2 --images images --output killed.jsonl --batch 2 > killed.log 2>&1) &
job=$!
for _ in $(seq 600); do [ "$(part_lines killed.jsonl)" -ge 3 ] && break; sleep 0.05; done
[ "$(part_lines killed.jsonl)" -ge 3 ] || { cat killed.log; fail "no records appeared"; }
victims=$(ip netns pids "$ns_b")
[ -n "$victims" ] || fail "no process runs on host B"
t0=$(date +%s.%N)
kill -KILL $victims
rc=0
for _ in $(seq 500); do kill -0 "$job" 2>/dev/null || break; sleep 0.02; done
if kill -0 "$job" 2>/dev/null; then
  cleanup; wait "$job" || true; cat killed.log; fail "the job still runs 10 s after host B was killed"
fi
wait "$job" || rc=$?
s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
[ "$rc" -ne 0 ] || { cat killed.log; fail "exit status 0 after host B was killed"; }
kept=$(part_lines killed.jsonl)
grep -q "on node $ip_b" killed.log || { cat killed.log; fail "mpirun's message does not name host B ($ip_b)"; }
[ -z "$(ip netns pids "$ns_a")" ] || fail "processes are left on host A: $(ip netns pids "$ns_a")"
MPIRUN_ARGS="--map-by node" caption 4 2 --images images --output killed.jsonl --batch 2 2> resume.log ||
  { cat resume.log; fail "resume on both hosts"; }
grep -q "$kept already recorded" resume.log || { cat resume.log; fail "resume did not skip $kept records"; }
cmp -s ref.jsonl killed.jsonl || fail "resumed output differs from the single-process run"
[ "$(part_lines killed.jsonl)" -eq "$n" ] || fail "part files hold $(part_lines killed.jsonl) records for $n images"
echo "FIGURES netns_hosts: host B killed ($(echo $victims | wc -w) processes) -> mpirun exit $rc after $s s;" \
     "$kept/$n records kept, resumed on both hosts byte-identical; mpirun said:" \
     "$(grep -Ei -m1 'lost|daemon|signal|exited' killed.log || echo '(nothing)')"
echo "PASS [netns_hosts]"
