#!/usr/bin/env bash
# Open MPI rsh agent (mca plm_rsh_agent) for netns_hosts.sh: "ssh" to a host that is a network
# namespace. Called as `netns_rsh_agent.sh HOST COMMAND...` like ssh; HOST is looked up in
# $PG_NETNS_HOSTS_MAP (lines "IP NAMESPACE"), and COMMAND runs there through sh -c, as ssh runs it
# through the remote shell, in a private UTS namespace whose hostname is host-<a|b|...>.
set -euo pipefail
host="$1"; shift
ns=$(awk -v h="$host" '$1 == h { print $2 }' "${PG_NETNS_HOSTS_MAP:?netns_rsh_agent.sh: PG_NETNS_HOSTS_MAP is not set}")
[ -n "$ns" ] || { echo "netns_rsh_agent.sh: unknown host '$host' (not in $PG_NETNS_HOSTS_MAP)" >&2; exit 255; }
exec ip netns exec "$ns" unshare -u sh -c 'hostname "host-${0##*[0-9]}"; exec sh -c "$1"' "$ns" "$*"
