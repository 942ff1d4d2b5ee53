"""The kernel's side measured with stock tools, labelled as such: iperf3 for
stream, sockperf (Debian's, 3.7) for rr (ping-pong) and pps (UDP
throughput). The same work in Python on kernel sockets is the other
choice (--kernel python: the roles in stream.py and rr.py with
KernelEnd), and the only one for crr (netperf is not in Debian)."""
from __future__ import annotations

import json
import re
import subprocess

from netchan.bench.procs import BenchError, spawn_tool, stop, wait_listening

STOCK = {"stream": "iperf3", "rr": "sockperf", "pps": "sockperf"}


def iperf3(place_s, place_c, addr, port, cfg, cpus):
    """Stock iperf3 between place_s (server) and place_c (client); returns
    iperf3's own -J object."""
    srv = spawn_tool(["iperf3", "-s", "-1", "-p", port, "-B", addr], place_s, cpus[0],
                     capture=False)
    try:
        wait_listening(port, srv, place_s)
        argv = ["iperf3", "-c", addr, "-p", port, "-l", cfg["size"], "-t", cfg["time"],
                "-P", cfg["flows"], "-i", cfg["interval"], "-J"]
        if cfg.get("warmup"):
            argv += ["-O", cfg["warmup"]]
        if cfg.get("reverse"):
            argv.append("-R")
        if cfg.get("kernel_cc"):
            argv += ["-C", cfg["kernel_cc"]]     # the client tells the server, as -R needs
        cli = spawn_tool([str(a) for a in argv], place_c, cpus[1])
        try:
            out, err = cli.communicate(timeout=cfg["time"] + cfg.get("warmup", 0) + 60)
        except subprocess.TimeoutExpired:
            stop(cli)
            raise BenchError("iperf3 client did not finish")
        try:
            j = json.loads(out)
        except ValueError:
            raise BenchError(f"iperf3 client failed: {(err or out).strip()[-300:]}") from None
        if cli.returncode != 0 or "error" in j:
            raise BenchError(f"iperf3 client failed: {j.get('error') or err.strip()}")
        return j
    finally:
        stop(srv)


def _sockperf_server(place_s, addr, port, cpu, tcp):
    argv = ["sockperf", "server", "-i", addr, "-p", str(port)] + (["--tcp"] if tcp else [])
    srv = spawn_tool(argv, place_s, cpu, capture=False)
    wait_listening(port, srv, place_s, udp=not tcp)
    return srv


def _sockperf_client(argv, place_c, cpu, timeout):
    cli = spawn_tool(argv, place_c, cpu)
    try:
        out, err = cli.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(cli)
        raise BenchError("sockperf did not finish")
    text = re.sub(r"\x1b\[[0-9;]*m", "", out + err)
    if cli.returncode != 0:
        raise BenchError(f"sockperf failed: {text.strip().splitlines()[-1:]}")
    return text


def sockperf_rr(place_s, place_c, addr, port, cfg, cpus):
    """sockperf ping-pong over TCP: its latencies are half round trips, so
    they are doubled here to compare with rr's round-trip times."""
    srv = _sockperf_server(place_s, addr, port, cpus[0], tcp=True)
    try:
        text = _sockperf_client(["sockperf", "ping-pong", "--tcp", "-i", addr, "-p", str(port),
                                 "-m", str(cfg["size"]), "-t", str(cfg["time"]), "--mps=max"],
                                place_c, cpus[1], cfg["time"] + 60)
    finally:
        stop(srv)
    pct = {float(m.group(1)): float(m.group(2)) * 2
           for m in re.finditer(r"percentile\s+([0-9.]+)\s*=\s*([0-9.]+)", text)}
    mx = re.search(r"<MAX> observation\s*=\s*([0-9.]+)", text)
    mn = re.search(r"<MIN> observation\s*=\s*([0-9.]+)", text)
    avg = re.search(r"Summary: Latency is\s*([0-9.]+)", text)
    obs = re.search(r"Total\s+(\d+)\s+observations", text)
    if not (avg and obs):
        raise BenchError("sockperf ping-pong printed no summary")
    seconds = float(cfg["time"])
    return {"transactions": int(obs.group(1)), "seconds": seconds,
            "latency_us": {"min": float(mn.group(1)) * 2 if mn else None,
                           "mean": float(avg.group(1)) * 2, "p50": pct.get(50.0),
                           "p90": pct.get(90.0), "p99": pct.get(99.0),
                           "p99_9": pct.get(99.9), "max": float(mx.group(1)) * 2 if mx else None}}


def sockperf_pps(place_s, place_c, addr, port, cfg, cpus):
    """sockperf throughput over UDP with the payload that makes a frame of
    --size bytes (64: 18 B): the sender's message rate (sockperf's client
    does not learn what arrived)."""
    payload = cfg["size"] - 14 - 20 - 8 - 4
    srv = _sockperf_server(place_s, addr, port, cpus[0], tcp=False)
    try:
        text = _sockperf_client(["sockperf", "throughput", "-i", addr, "-p", str(port),
                                 "-m", str(payload), "-t", str(cfg["time"])],
                                place_c, cpus[1], cfg["time"] + 60)
    finally:
        stop(srv)
    m = re.search(r"Total of (\d+) messages sent in ([0-9.]+) sec", text)
    if not m:
        raise BenchError("sockperf throughput printed no summary")
    return {"frames": int(m.group(1)), "seconds": float(m.group(2))}
