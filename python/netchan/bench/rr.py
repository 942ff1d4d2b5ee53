"""`netchan bench rr` and `crr`: request/response latency, the same code on
netchan and on the kernel's sockets.

rr (like netperf TCP_RR, sockperf ping-pong): one connection, the client
sends --size bytes, the server answers with --size bytes, again and again.
crr (like TCP_CRR): every transaction is connect, one request, one
response, close (the server closes first, so its side keeps TIME_WAIT).
The client times each transaction with perf_counter_ns and keeps the
samples in an array (no object per sample); percentiles come from numpy."""
from __future__ import annotations

import array
import time

from netchan.bench.ends import make_end
from netchan.bench.procs import cpu_times, emit
from netchan.bench.stream import emit_ready

STOP = b"S"          # first byte of the crr request that ends the server


def _read_exact(c, buf, view, n):
    got = 0
    while got < n:
        k = c.recv_into(view[got:n])
        if k == 0:
            return got
        got += k
    return got


def percentiles(samples_ns):
    """min/mean/p50/p90/p99/p99.9/max of samples, in microseconds."""
    try:
        import numpy as np
    except ImportError:
        return _percentiles_sorted(samples_ns)
    a = np.frombuffer(samples_ns, dtype=np.int64) if len(samples_ns) else np.zeros(1, np.int64)
    q = np.percentile(a, [50, 90, 99, 99.9])
    us = lambda v: round(float(v) / 1000.0, 3)  # noqa: E731
    return {"min": us(a.min()), "mean": us(a.mean()), "p50": us(q[0]), "p90": us(q[1]),
            "p99": us(q[2]), "p99_9": us(q[3]), "max": us(a.max())}


def _percentiles_sorted(samples_ns):
    """The same as percentiles() without numpy (nearest rank)."""
    a = sorted(samples_ns) or [0]
    rank = lambda p: a[min(len(a) - 1, max(0, round(p / 100 * len(a)) - 1))]  # noqa: E731
    us = lambda v: round(v / 1000.0, 3)  # noqa: E731
    return {"min": us(a[0]), "mean": us(sum(a) / len(a)), "p50": us(rank(50)),
            "p90": us(rank(90)), "p99": us(rank(99)), "p99_9": us(rank(99.9)), "max": us(a[-1])}


def run_server(cfg):
    end = make_end(cfg["stack"], cfg, cfg["ip"])
    size = cfg["size"]
    buf = bytearray(size)
    view = memoryview(buf)
    resp = b"r" * size
    try:
        end.listen(cfg["port"])
        emit_ready()
        u0, s0 = cpu_times()
        served = 0
        while True:
            c = end.accept(timeout=120)
            if cfg["mode"] == "rr":
                while _read_exact(c, buf, view, size) == size:
                    c.sendall(resp)
                    served += 1
                c.close()
                break
            got = _read_exact(c, buf, view, size)
            if got and buf[0:1] == STOP:
                c.close()
                break
            if got == size:
                c.sendall(resp)
                served += 1
            c.close()
        u1, s1 = cpu_times()
        emit(event="result", transactions=served, cpu_user=u1 - u0, cpu_sys=s1 - s0)
    finally:
        end.close()


def run_client(cfg):
    end = make_end(cfg["stack"], cfg, cfg["ip"])
    size, crr = cfg["size"], cfg["mode"] == "crr"
    req = b"q" * size
    buf = bytearray(size)
    view = memoryview(buf)
    samples = array.array("q")
    interval = cfg.get("interval", 1.0)
    try:
        emit_ready()
        conn = None if crr else end.connect(cfg["peer"], cfg["port"])
        clock = time.perf_counter_ns
        t0 = clock()
        measure_at = t0 + int(cfg.get("warmup", 0.0) * 1e9)
        stop_at = measure_at + int(cfg["time"] * 1e9)
        i_start = None
        i_first = 0
        start = None
        errors = 0
        while True:
            a = clock()
            c = end.connect(cfg["peer"], cfg["port"]) if crr else conn
            c.sendall(req)
            if _read_exact(c, buf, view, size) != size:
                errors += 1
                if not crr:
                    raise ConnectionError("the server closed the connection mid-test")
            if crr:
                c.close()
            b = clock()
            if b >= measure_at:
                if start is None:
                    start = i_start = b
                    u0, s0 = cpu_times()
                else:
                    samples.append(b - a)
                    if b - i_start >= interval * 1e9:
                        _interval(samples, i_first, i_start - start, b - start)
                        i_first, i_start = len(samples), b
            if b >= stop_at:
                break
        u1, s1 = cpu_times()
        if len(samples) > i_first:
            _interval(samples, i_first, i_start - start, b - start)
        if crr:
            c = end.connect(cfg["peer"], cfg["port"])
            c.sendall(STOP + req[1:])
            c.close()
        else:
            conn.close()
        seconds = (b - start) / 1e9 if start is not None else 0.0
        emit(event="result", transactions=len(samples), seconds=seconds,
             cpu_user=u1 - u0, cpu_sys=s1 - s0, errors=errors,
             latency_us=percentiles(samples))
    finally:
        end.close()


def _interval(samples, first, start_ns, end_ns):
    part = samples[first:]
    lat = percentiles(part)
    emit(event="interval", start=round(start_ns / 1e9, 6), end=round(end_ns / 1e9, 6),
         transactions=len(part), p50_us=lat["p50"], p99_us=lat["p99"], mean_us=lat["mean"])
