#!/usr/bin/env bash
# Runs an Open MPI job on two "hosts" of this machine: two network namespaces joined by a veth pair, one rank in
# each, talking TCP only (no shared memory). Needs root (ip netns, tc).
#
#   two-hosts.sh [--rate RATE] [--np N] -- PROGRAM [ARGS...]   mpirun ... PROGRAM ARGS on the two namespaces
#   two-hosts.sh --check                                      exit 0 when this machine can do it, else print why
#
# --rate limits each direction of the link with a token-bucket filter (tc tbf, e.g. 1gbit, 10gbit); without it the
# link runs at veth speed. --np (default 2) ranks are spread over the two hosts, slots = ceil(N/2) each.
# The namespaces get names unique to this run (nnd<pid>a/b) and addresses 10.231.X.1 and .2 on a /24 chosen per
# run; they exist only inside the two namespaces, and both namespaces are deleted on exit, whatever the outcome.
# Extra mpirun options may be passed in MPIRUN_EXTRA (split on spaces).
set -euo pipefail

die() { echo "two-hosts: $*" >&2; exit 2; }

rate="" np=2 check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate="$2"; shift 2 ;;
    --np) np="$2"; shift 2 ;;
    --check) check=1; shift ;;
    --) shift; break ;;
    *) die "unknown option $1 (usage: two-hosts.sh [--rate RATE] [--np N] -- PROGRAM ARGS..., or --check)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "needs root (network namespaces and tc); running as uid $(id -u)"
for tool in ip mpirun; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH (install iproute2 and openmpi-bin)"
done
[ -z "$rate" ] || command -v tc >/dev/null 2>&1 || die "'tc' not found on PATH (install iproute2)"

ns0="nnd$$a" ns1="nnd$$b" veth0="vnd$$a" veth1="vnd$$b"
net="10.231.$(( $$ % 250 + 1 ))"
work=$(mktemp -d /tmp/two-hosts.XXXXXX)

cleanup() {
  for ns in "$ns0" "$ns1"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      # Processes of this run still inside the namespace (a killed mpirun's orted or ranks) go first.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns0" || die "cannot create network namespace $ns0 ('ip netns add' failed: is this a container without CAP_SYS_ADMIN?)"
ip netns add "$ns1" || die "cannot create network namespace $ns1"
ip link add "$veth0" type veth peer name "$veth1" || die "cannot create a veth pair (kernel without veth support?)"
ip link set "$veth0" netns "$ns0"
ip link set "$veth1" netns "$ns1"
ip -n "$ns0" addr add "$net.1/24" dev "$veth0"
ip -n "$ns1" addr add "$net.2/24" dev "$veth1"
for ns in "$ns0" "$ns1"; do ip -n "$ns" link set lo up; done
ip -n "$ns0" link set "$veth0" up
ip -n "$ns1" link set "$veth1" up
if [ -n "$rate" ]; then
  # tbf shapes egress only: one filter on each end limits both directions.
  ip netns exec "$ns0" tc qdisc add dev "$veth0" root tbf rate "$rate" burst 256kb latency 50ms \
    || die "cannot add a tbf qdisc (kernel without sch_tbf?)"
  ip netns exec "$ns1" tc qdisc add dev "$veth1" root tbf rate "$rate" burst 256kb latency 50ms
fi
# Reachability without ping: a TCP connect to a closed port must be refused (not time out).
probe=$(timeout 5 ip netns exec "$ns0" bash -c "exec 3<>/dev/tcp/$net.2/9" 2>&1 || true)
case "$probe" in *refused*) ;; *) die "the veth link $net.1 -> $net.2 does not answer: $probe" ;; esac

if [ "$check" = 1 ]; then
  echo "two-hosts: OK (namespaces, veth, addresses${rate:+, tbf $rate})"
  exit 0
fi
[ $# -gt 0 ] || die "no program given (usage: two-hosts.sh [--rate RATE] [--np N] -- PROGRAM ARGS...)"

# The stand-in for ssh: "rsh HOST CMD..." runs CMD inside the namespace that owns HOST's address.
cat > "$work/rsh" <<RSH
#!/bin/sh
host="\$1"; shift
case "\$host" in
  $net.1) ns=$ns0 ;;
  $net.2) ns=$ns1 ;;
  *) echo "two-hosts rsh: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
RSH
chmod +x "$work/rsh"
slots=$(( (np + 1) / 2 ))
printf '%s slots=%d\n%s slots=%d\n' "$net.1" "$slots" "$net.2" "$slots" > "$work/hosts"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck disable=SC2086
ip netns exec "$ns0" mpirun --hostfile "$work/hosts" -np "$np" --map-by node \
  --mca plm_rsh_agent "$work/rsh" --mca btl tcp,self \
  --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24" \
  --bind-to none -x PATH ${TERM:+-x TERM} ${DOTNET_ROOT:+-x DOTNET_ROOT} ${HOME:+-x HOME} ${MPIRUN_EXTRA:-} "$@" &
job=$!
# Forward a cancellation to mpirun (which stops its ranks), then clean up.
trap 'kill -TERM $job 2>/dev/null; wait $job; exit 143' TERM INT
set +e
wait $job
status=$?
exit $status
