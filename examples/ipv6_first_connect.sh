#!/bin/bash
# How long a new netchan stack takes to its first IPv6 connection, per DAD
# mode (Stack(dad=...)): from Stack() to a TCP connection established with
# the Linux kernel's http.server on the other end of a veth, RUNS times each.
# Two namespaces made here (netchan on afpacket at one end, 198.18.0.2/15 and
# 2001:2::2/64; the kernel at the other, 2001:2::1/64). Prints one line per
# run: mode, seconds. Needs root; removes the namespaces on exit.
set -e
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
T=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
L=nccl$T; N=nccn$T; LD=cl$T; ND=cn$T
cleanup() {
    set +e      # the server dies by our signal: its status must not stop the cleanup
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    ip netns del $L 2>/dev/null; ip netns del $N 2>/dev/null
}
trap cleanup EXIT
ip netns add $L; ip netns add $N
ip link add $LD netns $L type veth peer name $ND netns $N
ip netns exec $L sysctl -qw net.ipv6.conf.$LD.disable_ipv6=0 net.ipv6.conf.$LD.router_solicitations=0
ip netns exec $N sysctl -qw net.ipv6.conf.$ND.disable_ipv6=1
ip -n $L -6 addr add 2001:2::1/64 dev $LD nodad
for ns in $L $N; do ip -n $ns link set lo up; done
ip -n $L link set $LD up; ip -n $N link set $ND up
sleep 1
ip netns exec $L python3 -m http.server 8000 --bind 2001:2::1 --directory /var/empty \
    > /dev/null 2>&1 &
SRV=$!
sleep 1
for _ in $(seq "$RUNS"); do
    for mode in optimistic wait off; do
        ip netns exec $N env PYTHONPATH="$REPO/python" python3 - "$ND" "$mode" <<'PY'
import sys, time, netchan
dev, mode = sys.argv[1], sys.argv[2]
t0 = time.monotonic()
with netchan.Stack(f"afpacket:{dev}", ip=["198.18.0.2/15", "2001:2::2/64"], dad=mode) as st:
    st.run_until(lambda: st.address_state("2001:2::2") != "tentative", timeout=10)
    c = st.connect(("2001:2::1", 8000), timeout=10)
    print(mode, f"{time.monotonic() - t0:.3f}", flush=True)
    c.abort()
PY
    done
done
