"""netchan on DPDK's net_tap sending to Linux, with TSO on and off, against the
kernel sending over a veth (issue 11: "on DPDK ports use the PMD's TSO").
Run as root; makes its namespaces (and the veth), removes them.

    PYTHONPATH=python python3 examples/bench_dpdk_tap.py --runs 3

`netchan bench --testbed` does not fit net_tap: the PMD makes its own tap
interface, which is not an end of the testbed's veth. So here netchan runs in
a namespace with the tap the PMD creates, and the Linux receiver sits on that
tap in the same namespace; the kernel's turn is the same sender code on
kernel sockets, over a veth pair to the same receiver code in a second
namespace (offloads as --kernel-offloads says). Each run sends 1 MiB writes
for --seconds; the receiver counts bytes from accept to EOF.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_afpacket import PEER, popen, sh, wait_line  # noqa: E402  (the Linux receiver)

SEND_IP, RECV_IP, PREFIX, PORT = "198.18.0.1", "198.18.0.2", 15, 5201

# the sender: netchan on the tap, or the kernel; starts, says "ready", waits
# for the go file (the receiver listens by then), sends for `seconds`
SENDER = r"""
import json, os, socket, sys, time
kind, uri, ip, peer, port, seconds, go = sys.argv[1:8]
port, seconds = int(port), float(seconds)
if kind == "netchan":
    import netchan
    stack = netchan.Stack(uri, ip=ip)
print("ready", flush=True)
while not os.path.exists(go):
    if kind == "netchan":
        stack.poll(0.01)
    else:
        time.sleep(0.01)
c = (stack.connect((peer, port), timeout=10) if kind == "netchan"
     else socket.create_connection((peer, port), timeout=10))
buf = b"\x5a" * (1 << 20)
end = time.monotonic() + seconds
while time.monotonic() < end:
    c.sendall(buf)
c.close()
if kind == "netchan":
    st = stack.port.stats()
    print("stats " + json.dumps({k: st[k] for k in ("dpdk_tx_tso_packets",
                                                    "dpdk_tx_tso_segments", "port_tx_packets")}),
          flush=True)
    stack.close()
print("done", flush=True)
"""


def eal_args(tag):
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return "+".join([f"--file-prefix=ncbench-{tag}", f"--lcores=0@({cpus})", "--no-huge",
                     "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
                     "--log-level=warning"])


def clean_up(procs, go, namespaces):
    """What a run started: its processes, the go file, its namespaces."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.path.exists(go):
        os.unlink(go)
    for ns in namespaces:
        sh("ip", "netns", "del", ns, check=False)


def run_netchan(tso, seconds):
    tag = uuid.uuid4().hex[:6]
    ns, tap, go = f"ncbt-{tag}", f"ncbt{tag}", f"/tmp/ncbt-go-{tag}"
    sh("ip", "netns", "add", ns)
    procs = []
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        uri = f"dpdk:net_tap0,iface={tap}?eal={eal_args(tag)}&tso={tso}"
        sender = popen(ns, SENDER, "netchan", uri, f"{SEND_IP}/{PREFIX}", RECV_IP, str(PORT),
                       str(seconds), go)
        procs.append(sender)
        wait_line(sender, "ready")
        sh("ip", "-n", ns, "addr", "add", f"{RECV_IP}/{PREFIX}", "dev", tap)
        sh("ip", "-n", ns, "link", "set", tap, "up")
        receiver = popen(ns, PEER, "recv", RECV_IP, str(PORT), str(seconds))
        procs.append(receiver)
        wait_line(receiver, "ready")
        open(go, "w").close()
        res = json.loads(wait_line(receiver, "{"))
        res.update(json.loads(wait_line(sender, "stats ").split(" ", 1)[1]))
        sender.wait(60)
        return res
    finally:
        clean_up(procs, go, (ns,))


def run_kernel(offloads, seconds):
    tag = uuid.uuid4().hex[:6]
    ns_s, ns_r, go = f"ncbk-s-{tag}", f"ncbk-r-{tag}", f"/tmp/ncbk-go-{tag}"
    dev_s, dev_r = f"ncbks{tag}", f"ncbkr{tag}"
    procs = []
    sh("ip", "netns", "add", ns_s)
    sh("ip", "netns", "add", ns_r)
    try:
        sh("ip", "link", "add", dev_s, "netns", ns_s, "type", "veth", "peer", "name", dev_r,
           "netns", ns_r)
        for ns, dev, ip in ((ns_s, dev_s, SEND_IP), (ns_r, dev_r, RECV_IP)):
            sh("ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX}", "dev", dev)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            state = "on" if offloads else "off"
            sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", state, "gso", state,
               "tx", state, "gro", state)
        receiver = popen(ns_r, PEER, "recv", RECV_IP, str(PORT), str(seconds))
        procs.append(receiver)
        wait_line(receiver, "ready")
        open(go, "w").close()
        sender = popen(ns_s, SENDER, "kernel", "", f"{SEND_IP}/{PREFIX}", RECV_IP, str(PORT),
                       str(seconds), go)
        procs.append(sender)
        res = json.loads(wait_line(receiver, "{"))
        sender.wait(60)
        return res
    finally:
        clean_up(procs, go, (ns_s, ns_r))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--kernel-offloads", choices=["on", "off"], default="on",
                    help="the kernel's veth: TSO/GSO/GRO and checksum offload")
    ap.add_argument("--hosts", default="tso,notso,kernel",
                    help="which turns: tso (netchan, tso=1), notso (tso=0), kernel")
    a = ap.parse_args()
    turns = a.hosts.split(",")
    results = {t: [] for t in turns}
    for i in range(a.runs):
        for t in turns:
            if t == "kernel":
                r = run_kernel(a.kernel_offloads == "on", a.seconds)
            else:
                r = run_netchan(1 if t == "tso" else 0, a.seconds)
            results[t].append(r)
            print(t, i + 1, json.dumps(r), flush=True)
            time.sleep(0.2)
    for t, rs in results.items():
        vals = [r["gbit"] for r in rs]
        print(f"{t}: median {statistics.median(vals):.3g} Gbit/s "
              f"({min(vals):.3g} - {max(vals):.3g}), runs {len(vals)}")


if __name__ == "__main__":
    main()
