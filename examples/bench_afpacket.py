"""netchan on afpacket vs the kernel on the same veth end, a Linux peer on the
other (issue 11). Run as root; makes two namespaces and a veth pair, removes them.

    PYTHONPATH=python python3 examples/bench_afpacket.py rr --runs 3
    PYTHONPATH=python python3 examples/bench_afpacket.py stream-in --runs 3 --offloads off
    PYTHONPATH=python python3 examples/bench_afpacket.py stream-out --runs 3 --link-query ring=v3

Modes (the host under test is netchan on `afpacket:ncb0`, or the kernel's
sockets on the same interface; the peer is always the kernel, in Python):
  rr          64 B ping-pong for --seconds, the peer as client: round trips/s, p50
  stream-in   the peer sends 1 MiB writes for --seconds; the host receives
  stream-out  the host sends 1 MiB writes for --seconds; the peer receives
It prints one line per run and a median (min-max) summary per host.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid

HOST_IP, PEER_IP, NC_IP, PREFIX = "198.18.0.1", "198.18.0.2", "198.18.0.3", 15
PORT = 5201

# the Linux peer: rr client / stream sender / stream receiver (kernel sockets)
PEER = r"""
import json, socket, sys, time
mode, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if mode == "rr":
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * 64
    lat = []
    end = time.monotonic() + seconds
    while True:
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        got = 0
        while got < 64:
            got += len(s.recv(64 - got))
        lat.append(time.perf_counter_ns() - t0)
        if time.monotonic() > end:
            break
    s.close()
    lat.sort()
    print(json.dumps({"rate": len(lat) / seconds, "p50_us": lat[len(lat) // 2] / 1000}))
elif mode == "send":
    s = socket.create_connection((host, port), timeout=10)
    buf = b"\x5a" * (1 << 20)
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(buf)
        n += len(buf)
    s.close()
else:  # recv: a listener; count bytes from first to last
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    buf = bytearray(1 << 20)
    n, t0 = 0, time.monotonic()
    while (k := c.recv_into(buf)):
        n += k
    dt = time.monotonic() - t0
    print(json.dumps({"gbit": n * 8 / dt / 1e9}))
"""

# the host under test: netchan or kernel, same logic
HOST = r"""
import json, os, socket, sys, time
kind, mode, uri, ip, peer, port, seconds = sys.argv[1:8]
port, seconds = int(port), float(seconds)
if kind == "netchan":
    import netchan
    stack = netchan.Stack(uri, ip=ip)
    def listen():
        return stack.listen(port)
    def connect():
        return stack.connect((peer, port), timeout=10)
else:
    def listen():
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((ip.split("/")[0], port))
        ls.listen(1)
        return ls
    def connect():
        return socket.create_connection((peer, port), timeout=10)
if mode in ("rr", "stream-in"):
    ls = listen()
    print("ready", flush=True)
    c = ls.accept()[0] if kind == "kernel" else ls.accept(timeout=30)
    if kind == "kernel":
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "rr":
        while (d := c.recv(64)):
            c.sendall(d)
    else:
        buf = bytearray(1 << 20)
        n, t0 = 0, time.monotonic()
        while (k := c.recv_into(buf)):
            n += k
        print(json.dumps({"gbit": n * 8 / (time.monotonic() - t0) / 1e9}), flush=True)
else:
    c = connect()
    buf = b"\x5a" * (1 << 20)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        c.sendall(buf)
    c.close()
if kind == "netchan":
    if os.environ.get("NC_BENCH_STATS"):
        print("stats " + json.dumps({k: v for k, v in stack.stats().items() if v}),
              file=sys.stderr, flush=True)
    stack.close()
print("done", flush=True)
"""


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Veth:
    def __init__(self, offloads):
        tag = uuid.uuid4().hex[:6]
        self.host_ns, self.peer_ns = f"ncb-h-{tag}", f"ncb-p-{tag}"
        self.host_dev, self.peer_dev = f"ncbh{tag}", f"ncbp{tag}"
        sh("ip", "netns", "add", self.host_ns)
        sh("ip", "netns", "add", self.peer_ns)
        sh("ip", "link", "add", self.host_dev, "netns", self.host_ns, "type", "veth",
           "peer", "name", self.peer_dev, "netns", self.peer_ns)
        sh("ip", "-n", self.peer_ns, "addr", "add", f"{PEER_IP}/{PREFIX}", "dev", self.peer_dev)
        for ns, dev in ((self.host_ns, self.host_dev), (self.peer_ns, self.peer_dev)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            state = "on" if offloads else "off"
            sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", state, "gso", state,
               "tx", state, "gro", state)

    def kernel_addr(self, on):
        sh("ip", "-n", self.host_ns, "addr", "add" if on else "del", f"{HOST_IP}/{PREFIX}",
           "dev", self.host_dev, check=on)

    def close(self):
        for ns in (self.host_ns, self.peer_ns):
            sh("ip", "netns", "del", ns, check=False)


def popen(ns, code, *args):
    env = dict(os.environ)
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-u", "-c", code, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_line(p, text):
    for line in p.stdout:
        if text in line:
            return line
    raise RuntimeError(f"ended before {text!r}: {p.stderr.read()}")


def one_run(v, kind, mode, seconds, query):
    uri = f"afpacket:{v.host_dev}" + (f"?{query}" if query else "")
    ip = NC_IP if kind == "netchan" else HOST_IP
    if kind == "kernel":
        v.kernel_addr(True)
    try:
        if mode == "stream-out":
            peer = popen(v.peer_ns, PEER, "recv", PEER_IP, str(PORT), str(seconds))
            wait_line(peer, "ready")
            host = popen(v.host_ns, HOST, kind, mode, uri, f"{ip}/{PREFIX}", PEER_IP, str(PORT),
                         str(seconds))
            res = json.loads(wait_line(peer, "{"))
            host.wait(60)
            return res
        host = popen(v.host_ns, HOST, kind, mode, uri, f"{ip}/{PREFIX}", PEER_IP, str(PORT),
                     str(seconds))
        wait_line(host, "ready")
        peer = popen(v.peer_ns, PEER, "rr" if mode == "rr" else "send", ip, str(PORT),
                     str(seconds))
        if mode == "rr":
            res = json.loads(wait_line(peer, "{"))
        else:
            res = json.loads(wait_line(host, "{"))
        peer.wait(60)
        host.wait(60)
        if os.environ.get("NC_BENCH_STATS"):
            for line in host.stderr:
                if line.startswith("stats "):
                    print(kind, line.strip(), flush=True)
        return res
    finally:
        if kind == "kernel":
            v.kernel_addr(False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["rr", "stream-in", "stream-out"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--offloads", choices=["on", "off"], default="on")
    ap.add_argument("--link-query", default="", help="afpacket URI parameters, e.g. ring=v3")
    ap.add_argument("--hosts", default="netchan,kernel")
    a = ap.parse_args()
    v = Veth(a.offloads == "on")
    results = {k: [] for k in a.hosts.split(",")}
    try:
        for i in range(a.runs):
            for kind in results:
                r = one_run(v, kind, a.mode, a.seconds, a.link_query)
                results[kind].append(r)
                print(kind, i + 1, json.dumps(r), flush=True)
    finally:
        v.close()
    for kind, rs in results.items():
        for key in rs[0]:
            vals = [r[key] for r in rs]
            print(f"{kind} {a.mode} {key}: median {statistics.median(vals):.3g} "
                  f"({min(vals):.3g} - {max(vals):.3g})")


if __name__ == "__main__":
    main()
