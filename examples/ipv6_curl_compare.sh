#!/bin/bash
# curl (the Linux kernel's TCP) downloading 64 MiB from one netchan httpdemo
# server over IPv4 and over IPv6 in turn, RUNS times each: two namespaces
# made here joined by a veth (netchan on afpacket at one end, 198.18.0.2/15
# and 2001:2::2/64; the kernel at the other, 198.18.0.1/15 and 2001:2::1/64).
# Prints one line per download: URL, bytes/s, bytes. Needs root; removes the
# namespaces (and the veth with them) on exit.
set -e
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
T=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
L=nccl$T; N=nccn$T; LD=cl$T; ND=cn$T
LOG=$(mktemp)
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    ip netns del $L 2>/dev/null; ip netns del $N 2>/dev/null; rm -f "$LOG"
}
trap cleanup EXIT
ip netns add $L; ip netns add $N
ip link add $LD netns $L type veth peer name $ND netns $N
ip netns exec $L sysctl -qw net.ipv6.conf.$LD.disable_ipv6=0 net.ipv6.conf.$LD.router_solicitations=0
ip netns exec $N sysctl -qw net.ipv6.conf.$ND.disable_ipv6=1
ip -n $L addr add 198.18.0.1/15 dev $LD
ip -n $L -6 addr add 2001:2::1/64 dev $LD nodad
for ns in $L $N; do ip -n $ns link set lo up; done
ip -n $L link set $LD up; ip -n $N link set $ND up
sleep 1
ip netns exec $N env PYTHONPATH="$REPO/python" python3 -m netchan.httpdemo serve \
    --port afpacket:$ND --ip 198.18.0.2/15,2001:2::2/64 --size $((64 << 20)) --seed 1 \
    --connections $((2 * RUNS)) > "$LOG" 2>&1 &
SRV=$!
for _ in $(seq 100); do grep -q listening "$LOG" && break; sleep 0.1; done
for _ in $(seq "$RUNS"); do
    for url in http://198.18.0.2:8080/ "http://[2001:2::2]:8080/"; do
        echo "$url $(ip netns exec $L curl -sS -o /dev/null -w '%{speed_download} %{size_download}' "$url")"
    done
done
wait "$SRV"; SRV=
