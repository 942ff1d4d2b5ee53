#!/usr/bin/env python3
"""wrk against examples/http_server.py in a two-host testbed: netchan.aio on
afpacket:eth0 in host 1 versus the same application on asyncio over the
kernel's TCP in host 1, wrk run from host 2 (the kernel's TCP there). As root:

    PYTHONPATH=python python3 examples/bench_http.py --runs 3 --duration 10 --connections 100

Each run starts the server afresh, fetches / once with curl (warm-up: ARP,
the first connection), runs
`wrk -t THREADS -c CONNECTIONS -d DURATION --latency http://ADDR:8080/`
from h2 and stops the server with SIGINT. The runs of the two servers
alternate (netchan, kernel, netchan, ...) so that a change in the machine's
load hits both. The testbed is made with offloads off on both eth0 (the same
link settings for both servers) and removed at the end (--keep leaves it).
Prints each run and a Markdown table: requests/s and wrk's p50/p99 latency,
median and min-max over the runs.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "http_server.py")

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict:
    """What a `wrk --latency` run printed: requests, requests_per_s, p50/p75/
    p90/p99 (seconds, with --latency), socket errors (connect, read, write,
    timeout: 0 when wrk printed no such line) and non_2xx (0 when absent)."""
    r = {"socket_errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0}, "non_2xx": 0}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+),", out, re.M)
    if not m:
        raise ValueError(f"not wrk output: {out!r}")
    r["requests"] = int(m.group(1))
    r["requests_per_s"] = float(re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M).group(1))
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+\w+)\s*$", out, re.M):
        r[f"p{pct}"] = _seconds(value)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                      map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non_2xx"] = int(m.group(1))
    return r


def _env():
    env = dict(os.environ)
    import netchan
    root = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def start_server(ns, args, env, timeout=30):
    """The example server in namespace ns; returns the process once it said
    "listening" (its other output stays in the pipe until it ends)."""
    argv = ["ip", "netns", "exec", ns, sys.executable, SERVER, *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "listening on" in line:
            return proc
    proc.kill()
    raise RuntimeError(f"{' '.join(argv)} did not start: {''.join(seen)}")


def stop_server(proc, timeout=20):
    """SIGINT, then its output ("served R requests on C connections")."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise RuntimeError(f"the server did not stop in {timeout} s: {out}")
    return out


def _run(argv, timeout):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def one_run(tb, mode, a, env):
    h1, h2 = tb.host_netns(1), tb.host_netns(2)
    if mode == "netchan":
        addr = tb.netchan_ip(1)
        server_args = ["--link", a.link, "--ip", f"{addr}/15", "--port", str(a.port)]
    else:
        addr = tb.kernel_ip(1)
        server_args = ["--kernel", "--host", "0.0.0.0", "--port", str(a.port)]
    if a.uvloop:
        server_args.append("--uvloop")
    url = f"http://{addr}:{a.port}/"
    proc = start_server(h1, server_args, env)
    try:
        warm = _run(["ip", "netns", "exec", h2, "curl", "-sS", "--max-time", "10",
                     "--retry", "3", "--retry-connrefused", url], 60)
        if warm.stdout != "hello\n":
            raise RuntimeError(f"warm-up fetch of {url} failed: {warm.stdout!r} {warm.stderr}")
        wrk = ["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{a.duration}s", "--latency", url]
        out = _run(["ip", "netns", "exec", h2, *wrk], a.duration + 60)
        if out.returncode:
            raise RuntimeError(f"wrk failed: {out.stdout}{out.stderr}")
        res = parse_wrk(out.stdout)
        res["command"] = " ".join(wrk)
    finally:
        res_server = stop_server(proc)
    res["server"] = res_server.strip().splitlines()[-1]
    return res


def _fmt_lat(s):
    return f"{s * 1e3:.2f} ms"


def summary(results):
    """Markdown table rows: one per mode, median (min-max) over the runs."""
    rows = []
    for mode, runs in results.items():
        if not runs:
            continue
        cells = []
        for key, fmt in (("requests_per_s", lambda v: f"{v:,.0f}"), ("p50", _fmt_lat),
                         ("p99", _fmt_lat)):
            vals = [r[key] for r in runs]
            cells.append(f"{fmt(statistics.median(vals))} ({fmt(min(vals))} – {fmt(max(vals))})")
        errors = sum(sum(r["socket_errors"].values()) + r["non_2xx"] for r in runs)
        rows.append((mode, *cells, str(errors)))
    head = ("server (host 1)", "requests/s", "latency p50", "latency p99", "errors + non-2xx")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def build_parser():
    p = argparse.ArgumentParser(prog="bench_http.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--modes", default="netchan,kernel", help="comma-separated: netchan,kernel")
    p.add_argument("--link", default="afpacket:eth0",
                   help="the netchan server's port URI in h1 (default %(default)s), e.g. "
                        "afpacket:eth0?block=8k&blocks=512")
    p.add_argument("--uvloop", action="store_true", help="both servers on uvloop")
    p.add_argument("--offload", choices=("on", "off"), default="off")
    p.add_argument("--name", default="httpbench", help="testbed name")
    p.add_argument("--keep", action="store_true", help="leave the testbed up")
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)
    from netchan.testbed import Testbed
    env = _env()
    modes = a.modes.split(",")
    results = {m: [] for m in modes}
    tb = Testbed(a.name).up(hosts=2, offload=a.offload == "on")
    try:
        print(f"# testbed {a.name}: h1 {tb.host_netns(1)}, h2 {tb.host_netns(2)}; "
              f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
        for run in range(1, a.runs + 1):
            for mode in modes:
                r = one_run(tb, mode, a, env)
                results[mode].append(r)
                errs = sum(r["socket_errors"].values())
                print(f"run {run} {mode:8s} {r['requests_per_s']:>10,.0f} req/s  "
                      f"p50 {_fmt_lat(r['p50'])}  p99 {_fmt_lat(r['p99'])}  "
                      f"socket errors {errs}  non-2xx {r['non_2xx']}  "
                      f"[{shlex.quote(r['command'])}; {r['server']}]", flush=True)
    finally:
        if not a.keep:
            tb.down()
    print()
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
