"""`netchan bench stream`: bulk transfer over --flows connections, client to
server (or server to client with -R), the same code on netchan and on the
kernel's sockets.

Honest zero-copy (--zerocopy): the sender writes its payload into every
send view it commits, and the receiver reads every byte of every receive
view (a numpy sum over the view's 64-bit words) before it consumes it, so
both ends touch what they move, as iperf3 does with its copies. Without
--zerocopy the calls are sendall() and recv_into() on both stacks.
--verify: both ends hash the byte stream (sha256) and the parent compares."""
from __future__ import annotations

import hashlib
import os
import socket
import time

from netchan.bench.ends import make_end, wait_readable
from netchan.bench.procs import cpu_times, emit

STALL_SECONDS = 10.0         # a receiver that gets nothing for this long fails the run
SEED_PATTERN = bytes((i * 131 + 7) & 0xFF for i in range(4096))


def payload_of(size):
    return memoryview((SEED_PATTERN * (size // len(SEED_PATTERN) + 1))[:size])


def touch(view):
    """Read every byte of view (the receiver's share of the work); returns a
    checksum so that nothing can skip the read. numpy sums 64-bit words at
    memory speed; without numpy, zlib's adler32 (C, slower) reads them."""
    try:
        import numpy as np
    except ImportError:
        import zlib
        return zlib.adler32(view)
    a = np.frombuffer(view, dtype=np.uint8)
    whole = len(a) & ~7
    s = int(a[:whole].view(np.uint64).sum(dtype=np.uint64)) if whole else 0
    return s + int(a[whole:].sum())


class Meter:
    """Counts bytes in the measured period (after the warm-up) and emits an
    interval event every `interval` seconds when `report` is set."""

    def __init__(self, cfg, end, conns, report):
        self.cfg, self.end, self.conns, self.report = cfg, end, conns, report
        self.interval = cfg.get("interval", 1.0)
        self.t_start = None        # first measured moment
        self.total = 0
        self.i_bytes = 0
        # per connection (iperf3's streams), in connection order
        self.k_of = {id(c): k for k, c in enumerate(conns)}
        self.c_total = [0] * len(conns)
        self.c_i_bytes = [0] * len(conns)
        self.i_start = None
        self.rtx0 = 0
        self.intervals = []

    def begin(self, now):
        self.t_start = self.i_start = now
        self.cpu0 = cpu_times()
        self.rtx0 = self.rtx_i = self.end.retransmits(self.conns)

    def add(self, n, now, conn=None):
        if self.t_start is None:
            return
        self.total += n
        self.i_bytes += n
        if conn is not None:
            k = self.k_of[id(conn)]
            self.c_total[k] += n
            self.c_i_bytes[k] += n
        if self.report and now - self.i_start >= self.interval:
            self.flush(now)

    def flush(self, now):
        # a last sliver (under a tenth of an interval) is no interval of its own
        if self.t_start is None or now - self.i_start < self.interval / 10:
            return
        rtx = self.end.retransmits(self.conns)
        cwnds = [self.end.cwnd(c) for c in self.conns]
        ev = {"start": round(self.i_start - self.t_start, 6), "end": round(now - self.t_start, 6),
              "bytes": self.i_bytes, "retransmits": rtx - self.rtx_i,
              "cwnd": [w for w in cwnds if w is not None],
              "stream_bytes": list(self.c_i_bytes)}
        self.rtx_i = rtx
        emit(event="interval", **ev)
        self.i_bytes, self.i_start = 0, now
        self.c_i_bytes = [0] * len(self.conns)

    def done(self, now, **extra):
        if self.t_start is None:
            self.begin(now)
        if self.report:
            self.flush(now)
        u1, s1 = cpu_times()
        seconds = now - self.t_start
        emit(event="result", bytes=self.total, seconds=seconds,
             cpu_user=u1 - self.cpu0[0], cpu_sys=s1 - self.cpu0[1],
             retransmits=self.end.retransmits(self.conns) - self.rtx0,
             stream_bytes=list(self.c_total), **extra)


# --verify sends a random stream (no two writes alike, and a period that is
# no multiple of a page or a window), so that bytes out of place change the digest
VERIFY_SPAN = (8 << 20) - 13


def send(end, conns, cfg, report):
    size, zc = cfg["size"], cfg.get("zerocopy") and end.kind == "netchan"
    payload = payload_of(size)
    # one hash per connection: flows interleave differently at each end
    hs = {id(c): hashlib.sha256() for c in conns} if cfg.get("verify") else None
    source = memoryview(os.urandom(VERIFY_SPAN + size)) if hs is not None else None
    pos = 0
    meter = Meter(cfg, end, conns, report)
    t0 = time.perf_counter()
    measure_at = t0 + cfg.get("warmup", 0.0)
    stop_at = measure_at + cfg["time"]
    if cfg.get("warmup", 0.0) <= 0:
        meter.begin(t0)
    while True:
        for c in conns:
            if source is not None:
                payload = source[pos:pos + size]
            if zc:
                view = c.send_view()
                n = min(len(view), size)
                view[:n] = payload[:n]          # the sender writes what it sends
                view.release()
                c.commit(n)
            else:
                c.sendall(payload)
                n = size
            if hs is not None:
                hs[id(c)].update(payload[:n])
                pos = (pos + n) % VERIFY_SPAN
            now = time.perf_counter()
            if meter.t_start is None and now >= measure_at:
                meter.begin(now)
            else:
                meter.add(n, now, c)
        if now >= stop_at:
            break
    sent_until = time.perf_counter()    # iperf3's sender time: until the last write
    for c in conns:
        c.shutdown(socket.SHUT_WR)
    # the peer closes after reading everything: its EOF ends our clock
    for c in conns:
        while c.recv(65536):
            pass
    meter.done(sent_until, sha256=_digests(hs, conns))


def receive(end, conns, cfg, report):
    zc = cfg.get("zerocopy") and end.kind == "netchan"
    if zc:
        touch(b"\0" * 8)          # numpy's import, before the clock starts
    hs = {id(c): hashlib.sha256() for c in conns} if cfg.get("verify") else None
    buf = bytearray(max(cfg["size"], 1 << 16))
    bufv = memoryview(buf)
    meter = Meter(cfg, end, conns, report)
    warmup = cfg.get("warmup", 0.0)
    open_ = list(conns)
    if end.kind == "kernel":
        for c in conns:
            c.settimeout(STALL_SECONDS)
    try:
        _receive_loop(end, conns, open_, zc, hs, buf, bufv, meter, warmup)
    except TimeoutError:
        raise ConnectionError(f"stalled: no byte arrived for {STALL_SECONDS:g} s") from None


def _receive_loop(end, conns, open_, zc, hs, buf, bufv, meter, warmup):
    measure_at = None
    checksum = 0
    last = None
    timeout = STALL_SECONDS if end.kind == "netchan" else None
    quiet_since = time.perf_counter()
    while open_:
        ready = open_ if len(open_) == 1 else wait_readable(end, open_)
        if not ready:
            if time.perf_counter() - quiet_since > STALL_SECONDS:
                raise TimeoutError
            continue
        quiet_since = time.perf_counter()
        for c in ready:
            if zc:
                view = c.recv_view(timeout=timeout)
                n = len(view)
                if n:
                    checksum += touch(view)     # the receiver reads every byte it is given
                    if hs is not None:
                        hs[id(c)].update(view)
                view.release()
                if n:
                    c.consume(n)
            else:
                n = c.recv_into(buf) if timeout is None else c.recv_into(buf, timeout=timeout)
                if n and hs is not None:
                    hs[id(c)].update(bufv[:n])
            now = time.perf_counter()
            if n == 0:
                open_.remove(c)
                continue
            last = now
            if measure_at is None:
                measure_at = now + warmup
                if warmup <= 0:
                    meter.begin(now)
                    meter.add(n, now, c)
            elif meter.t_start is None and now >= measure_at:
                meter.begin(now)
            else:
                meter.add(n, now, c)
    meter.done(last or time.perf_counter(), sha256=_digests(hs, conns),
               checksum=checksum & 0xFFFFFFFFFFFFFFFF)


def _digests(hs, conns):
    """sha256 of each connection's bytes, in connection order (the ends
    accept and connect in the same order), or None without --verify."""
    return None if hs is None else [hs[id(c)].hexdigest() for c in conns]


def run_server(cfg):
    end = make_end(cfg["stack"], cfg, cfg["ip"])
    try:
        end.listen(cfg["port"])
        emit_ready()
        conns = [end.accept() for _ in range(cfg["flows"])]
        (send if cfg.get("reverse") else receive)(end, conns, cfg, report=False)
        # closing after the result: the sender's EOF wait ends here
        for c in conns:
            c.close()
    finally:
        end.close()


def run_client(cfg):
    end = make_end(cfg["stack"], cfg, cfg["ip"])
    try:
        emit_ready()
        conns = [end.connect(cfg["peer"], cfg["port"]) for _ in range(cfg["flows"])]
        (receive if cfg.get("reverse") else send)(end, conns, cfg, report=True)
        for c in conns:
            c.close()
    finally:
        end.close()


def emit_ready(**info):
    import json
    print("READY " + json.dumps(info), flush=True)
