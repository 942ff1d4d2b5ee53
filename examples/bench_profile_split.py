"""Where the CPU goes in a `netchan bench --testbed` run, netchan's turn and the
kernel's: per process, CPU time per unit moved (µs per round trip, ms per GB)
and the share of its perf samples in each kernel path (docs/xdp.md, "Where
the time goes"). Run as root with perf installed:

    PYTHONPATH=python python3 examples/bench_profile_split.py rr --link xdp:eth0
    PYTHONPATH=python python3 examples/bench_profile_split.py "stream -R" --link dpdk:net_af_xdp0,iface=eth0

It starts `python3 -m netchan bench MODE --testbed --link LINK --time T --json`;
1.5 s into each turn, for `--window` seconds, it reads every bench process's
/proc/PID/schedstat and context switches while `perf record -a -g` runs (the
softirq work a process does for its peer shows up in its own samples), then
sorts each process's samples into the paths below by the first that appears
in its call chain. Timings are noisy on a shared machine: compare the turns of
one run.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# (label, any of these in the call chain); the first that matches wins
PATHS = [
    ("veth XDP receive: copy out of the skb, XDP program, copy into the UMEM", ["veth_xdp_rcv"]),
    ("TCP/IP receive softirq (ip_rcv .. tcp_v4_rcv, tcp_ack, wake-ups)",
     ["ip_rcv", "__netif_receive_skb", "process_backlog"]),
    ("TCP transmit (tcp_write_xmit .. ip_output)", ["tcp_write_xmit", "__tcp_transmit_skb"]),
    ("veth_xmit, netif_rx", ["veth_xmit"]),
    ("AF_XDP copy-mode transmit (an skb per frame, copy, direct xmit)",
     ["__xsk_generic_xmit", "xsk_sendmsg"]),
    ("tcp_sendmsg (copy into skbs)", ["tcp_sendmsg"]),
    ("tcp_recvmsg (copy to user)", ["tcp_recvmsg"]),
    ("other send/recv system calls", ["__sys_sendto", "__sys_recvfrom", "sock_recvmsg"]),
    ("sched_yield", ["do_sched_yield"]),
    ("sleeping in poll/ppoll/epoll", ["do_sys_poll", "do_epoll_wait"]),
    ("scheduler (switched out, preempted)", ["__schedule"]),
]
USER = "user space (netchan or the application, Python, libc)"


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout.split()
        out += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return out


def _read(path):
    with open(path) as f:
        return f.read()


def snapshot(pids):
    """{pid: (CPU ns, voluntary, involuntary context switches, command line)}"""
    snap = {}
    for p in pids:
        try:
            run_ns = int(_read(f"/proc/{p}/schedstat").split()[0])
            status = _read(f"/proc/{p}/status")
            cmd = _read(f"/proc/{p}/cmdline").replace("\0", " ")
        except OSError:
            continue
        ctx = [int(ln.split()[1]) for ln in status.splitlines() if "ctxt_switches" in ln]
        snap[p] = (run_ns, ctx[0], ctx[1], cmd)
    return snap


def role_of(cmd):
    if "netchan.bench" in cmd:
        return "h1" if "-client" in cmd or " client " in cmd else "h2"
    if cmd.startswith("iperf3") or "sockperf" in cmd:
        return "h1" if " -c " in cmd or "ping-pong" in cmd or "throughput" in cmd else "h2"
    return None


def classify(data, pid):
    text = subprocess.run(["perf", "script", "-i", data, "--pid", str(pid), "-F", "ip,sym"],
                          capture_output=True, text=True).stdout
    counts, n = collections.Counter(), 0
    for sample in text.split("\n\n"):
        lines = [ln.split(None, 1) for ln in sample.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        n += 1
        chain = " ".join(parts[1] for parts in lines if len(parts) > 1)
        for label, keys in PATHS:
            if any(k in chain for k in keys):
                counts[label] += 1
                break
        else:
            leaf_ip = int(lines[0][0], 16)
            counts[USER if leaf_ip < 0xffff800000000000 else "other kernel"] += 1
    return n, counts


def profile_turn(bench_pid, seen, window, data):
    """Wait for this turn's processes (new descendants of the bench), then
    measure them for `window` seconds."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = [p for p in descendants(bench_pid) if p not in seen]
        roles = {role_of(snapshot([p]).get(p, (0, 0, 0, ""))[3]) for p in pids}
        if {"h1", "h2"} <= roles:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the bench's processes did not appear")
    time.sleep(1.5)                     # past the handshake and the warm-up
    perf = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)                     # perf is recording
    t0, before = time.monotonic(), snapshot(pids)
    time.sleep(window)
    after, elapsed = snapshot(pids), time.monotonic() - t0
    perf.send_signal(signal.SIGINT)
    perf.wait()
    return pids, before, after, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", help='stream, "stream -R" or rr')
    ap.add_argument("--link", default="xdp:eth0")
    ap.add_argument("--time", type=float, default=7.0)
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--kernel", default="auto", help="the kernel's turn: auto, stock or python "
                    "(netchan bench --kernel)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="nc-split-")
    argv = [sys.executable, "-m", "netchan", "bench", *args.mode.split(), "--testbed", "--link",
            args.link, "--time", str(args.time), "--kernel", args.kernel, "--json"]
    bench = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    turns = []
    seen = {bench.pid}
    try:
        for name in ("netchan", "kernel"):
            data = os.path.join(tmp, f"{name}.data")
            pids, before, after, elapsed = profile_turn(bench.pid, seen, args.window, data)
            seen |= set(pids)
            turns.append((name, data, before, after, elapsed))
        out, _ = bench.communicate(timeout=120)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bench.poll() is None:
            bench.terminate()
            bench.wait()
    doc = json.loads(out)
    for name, data, before, after, elapsed in turns:
        part = doc.get(name) if name in doc else (doc if name == "netchan" else doc["kernel"])
        if "transactions_per_second" in part:
            units, unit = part["transactions_per_second"] * elapsed, "µs CPU per round trip"
            scale = 1e-3             # ns -> µs
            rate = f"{part['transactions_per_second']:,.0f} round trips/s"
        else:
            bps = part["end"]["sum_received"]["bits_per_second"]
            units, unit = bps / 8 * elapsed / 1e9, "ms CPU per GB"
            scale = 1e-6             # ns -> ms
            rate = f"{bps / 1e9:.2f} Gbit/s"
        print(f"\n== {name}'s turn ({args.mode}, {args.link}): {rate}")
        for p in sorted(before, key=lambda q: role_of(before[q][3]) or "z"):
            if p not in after or role_of(before[p][3]) is None:
                continue
            run = after[p][0] - before[p][0]
            vol, invol = after[p][1] - before[p][1], after[p][2] - before[p][2]
            who = role_of(before[p][3])
            print(f"{who} {before[p][3][:60]}")
            print(f"   CPU {run / 1e9 / elapsed * 100:.0f}% of a core, {run * scale / units:.1f} "
                  f"{unit}; context switches/s: {vol / elapsed:,.0f} voluntary, "
                  f"{invol / elapsed:,.0f} involuntary")
            n, counts = classify(data, p)
            for label, c in counts.most_common():
                if c * 200 >= n:
                    print(f"   {100 * c / max(n, 1):5.1f}%  {label}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
