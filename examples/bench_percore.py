"""One stack per core vs one stack (issue 11): examples/percore_echo.py on
the bare end of a veth pair with N=1 or N=2 stacks, Linux clients in a peer
namespace. Run as root; makes two namespaces and a veth pair, removes them.

    PYTHONPATH=python python3 examples/bench_percore.py crr --runs 3
    PYTHONPATH=python python3 examples/bench_percore.py rr --runs 3
    PYTHONPATH=python python3 examples/bench_percore.py rr --runs 3 --link dpdk-afpacket

Modes (--clients client processes in the peer namespace, --seconds each):
  crr   connect, one 64 B line and its answer, close: transactions/s
  rr    one connection per client, 64 B lines ping-pong: round trips/s
--link afpacket (default), dpdk-afpacket (each stack its own DPDK
net_af_packet device on the veth; segmentation off on the Linux end) or
xdp (netchan's AF_XDP port, stack k on rx queue k of a veth made with N
queues for each N: the Linux clients' flow hash picks the queue).
Prints one line per run and the median (min-max) per N, and the ratio.

On a machine whose clients share the cores with the stacks (this one has
two), the rate alone cannot show scaling: the clients take the second core.
So each run also reports the CPU time of the server's processes (user +
system, from /proc) and of the clients (their rusage): transactions per
server CPU-second is the cost of one transaction in netchan; if two stacks
keep it, each added core adds one stack's rate.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import time
import uuid

PEER_IP, NC_IP, PREFIX, PORT = "198.18.0.1", "198.18.0.2", 15, 7
HERE = os.path.dirname(os.path.abspath(__file__))

CLIENT = r"""
import json, socket, sys, time
mode, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
msg = b"x" * 63 + b"\n"
def exchange(s):
    s.sendall(msg)
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(256)
        if not d:
            raise ConnectionError("closed")
        got += d
n, end = 0, time.monotonic() + seconds
if mode == "crr":
    while time.monotonic() < end:
        with socket.create_connection((host, port), timeout=10) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            exchange(s)
        n += 1
else:
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while time.monotonic() < end:
        exchange(s)
        n += 1
    s.close()
print(json.dumps({"n": n, "rate": n / seconds}), flush=True)
"""


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Veth:
    def __init__(self, queues=1):
        self.queues = queues
        tag = uuid.uuid4().hex[:6]
        self.peer_ns, self.nc_ns = f"ncpc-p-{tag}", f"ncpc-n-{tag}"
        self.peer_dev, self.nc_dev = f"ncpp{tag}", f"ncpn{tag}"

    def __enter__(self):
        sh("ip", "netns", "add", self.peer_ns)
        sh("ip", "netns", "add", self.nc_ns)
        nq = ("numtxqueues", str(self.queues), "numrxqueues", str(self.queues))
        sh("ip", "link", "add", self.peer_dev, "netns", self.peer_ns, *nq, "type", "veth",
           "peer", "name", self.nc_dev, "netns", self.nc_ns, *nq)
        sh("ip", "-n", self.peer_ns, "addr", "add", f"{PEER_IP}/{PREFIX}", "dev", self.peer_dev)
        for ns, dev in ((self.peer_ns, self.peer_dev), (self.nc_ns, self.nc_dev)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "netns", "exec", self.peer_ns, "sysctl", "-qw",
           "net.ipv4.ip_local_port_range=10000 60999")
        time.sleep(0.5)                     # carrier (linkwatch)
        return self

    def __exit__(self, *exc):
        sh("ip", "netns", "del", self.peer_ns, check=False)
        sh("ip", "netns", "del", self.nc_ns, check=False)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process root and all its descendants
    now alive (the per-core stacks are children of the server process)."""
    parent, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid ... utime(12th) stime(13th), 0-based 11, 12
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(child for child, ppid in parent.items() if ppid == pid)
    return total


LINKS = {"afpacket": "afpacket:{dev}", "dpdk-afpacket": "dpdk:net_af_packet0,iface={dev}",
         "xdp": "xdp:{dev}"}


def wait_listening(server, n, timeout=60.0):
    """Until each of the n stacks has printed its "listening" line. A stack
    that dies on open leaves its siblings (and so the server) running, so
    this waits with a deadline rather than until the server's output ends."""
    seen, deadline = "", time.monotonic() + timeout
    fd = server.stdout.fileno()
    while seen.count("listening") < n:      # (lines of two stacks may run together)
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise RuntimeError(f"{seen.count('listening')} of {n} stacks listening after "
                               f"{timeout:.0f} s; the server said: {seen.strip()[-500:]!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"the server ended before it listened: {seen.strip()[-500:]!r}")
        seen += chunk.decode(errors="replace")


def one_run(v, n, mode, seconds, clients, link="afpacket", busy_poll=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(["ip", "netns", "exec", v.nc_ns, sys.executable,
                               os.path.join(HERE, "percore_echo.py"),
                               LINKS[link].format(dev=v.nc_dev),
                               f"{NC_IP}/{PREFIX}", str(n),
                               *([] if busy_poll is None else [str(busy_poll)])],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        wait_listening(server, n)
        server_cpu0 = tree_cpu_seconds(server.pid)
        client_cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs = [subprocess.Popen(["ip", "netns", "exec", v.peer_ns, sys.executable, "-c", CLIENT,
                                   mode, NC_IP, str(PORT), str(seconds)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(clients)]
        total = 0.0
        for p in procs:
            out, err = p.communicate(timeout=seconds + 60)
            if p.returncode:
                raise RuntimeError(f"client failed: {err.strip()[-300:]}")
            total += json.loads(out)["rate"]
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (ru.ru_utime - client_cpu0.ru_utime) + (ru.ru_stime - client_cpu0.ru_stime)
        return total, server_cpu, client_cpu
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("crr", "rr"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--link", choices=sorted(LINKS), default="afpacket")
    ap.add_argument("--busy-poll", type=float, default=None,
                    help="the stacks' busy_poll in seconds (default: netchan's, 50 us)")
    a = ap.parse_args()
    results = {1: [], 2: []}
    per_cpu = {1: [], 2: []}
    links = {}
    with contextlib.ExitStack() as made:
        for r in range(a.runs):
            for n in (1, 2):
                # xdp: stack k takes rx queue k, so the veth has one queue per
                # stack (a queue without a socket would pass its flows to the
                # kernel); the other links steer in software on one queue
                queues = n if a.link == "xdp" else 1
                if queues not in links:
                    v = links[queues] = made.enter_context(Veth(queues))
                    if a.link != "afpacket":    # net_af_packet takes no super-frames (docs/dpdk.md)
                        sh("ip", "netns", "exec", v.peer_ns, "ethtool", "-K", v.peer_dev, "tso",
                           "off", "gso", "off")
                rate, server_cpu, client_cpu = one_run(links[queues], n, a.mode, a.seconds,
                                                       a.clients, a.link, a.busy_poll)
                results[n].append(rate)
                # transactions per CPU-second of the server's processes
                per_cpu[n].append(rate * a.seconds / max(server_cpu, 1e-9))
                print(f"run {r + 1}: {n} stack(s): {a.mode} {rate:,.0f}/s; server CPU "
                      f"{server_cpu:.2f} s ({server_cpu / a.seconds:.0%} of one core), clients "
                      f"{client_cpu:.2f} s; {per_cpu[n][-1]:,.0f} per server CPU-second",
                      flush=True)
    med = {n: statistics.median(v) for n, v in results.items()}
    eff = {n: statistics.median(v) for n, v in per_cpu.items()}
    for n, vals in results.items():
        print(f"{a.mode} with {n} stack(s): {med[n]:,.0f}/s (min {min(vals):,.0f}, "
              f"max {max(vals):,.0f}) over {a.runs} runs, {a.clients} Linux clients, {a.link}; "
              f"{eff[n]:,.0f} per server CPU-second")
    print(f"ratio 2 stacks / 1 stack: {med[2] / med[1]:.2f}x; per server CPU-second "
          f"{eff[2] / eff[1]:.2f}x (1.00 = each stack as cheap as one alone)")


if __name__ == "__main__":
    main()
