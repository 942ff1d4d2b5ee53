"""What both roles do once the streams exist: move the data, count it per
interval, watch the control connection meanwhile, and gather the figures
for the summary. One thread; the selector waits on every stream and the
control connection at once (on netchan it drives the stack meanwhile)."""
from __future__ import annotations

import resource
import selectors
import time

from netchan.iperf3 import protocol as P

INTERVAL = 1.0
BURST = 64                      # sends or reads per ready stream before looking around again


class Stream:
    """One data connection and its counters."""

    def __init__(self, sid, conn, sender, local, remote):
        self.id = sid
        self.conn = conn
        self.sender = sender
        self.local = local              # (host, port)
        self.remote = remote
        self.bytes = 0                  # counted while the test runs
        self.mark = 0                   # bytes at the start of the current interval
        self.retrans_base = 0           # the connection's retransmits when the test started
        self.retrans_mark = 0
        self.open = True
        self.block_off = 0              # bytes of the current block already sent
        self.max_cwnd = self.max_snd_wnd = 0
        self.rtts = []


class Cpu:
    """This process's CPU use over the test, as iperf3 reports it: percent
    of wall time (so up to 100 x cores), user and system."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.r0 = resource.getrusage(resource.RUSAGE_SELF)

    def percent(self):
        r = resource.getrusage(resource.RUSAGE_SELF)
        wall = max(time.monotonic() - self.t0, 1e-9)
        user = (r.ru_utime - self.r0.ru_utime) / wall * 100
        system = (r.ru_stime - self.r0.ru_stime) / wall * 100
        return (user + system, user, system)


class DataPhase:
    """TEST_RUNNING until the end: `run()` moves data until `on_control`
    (given each state byte as it arrives) returns True, or, on the client,
    until the time is up. `report` gets each interval as it closes."""

    def __init__(self, net, ctrl, reader, streams, length, report, duration=None):
        self.net = net
        self.ctrl = ctrl
        self.reader = reader
        self.streams = streams
        self.report = report
        self.duration = duration        # the client ends the test; the server waits for TEST_END
        self.payload = memoryview(bytes(_pattern(length)))
        self.sink = bytearray(max(length, 1 << 16))
        self.start = self.end = None
        self.interval_start = 0.0
        self.cpu = None
        self.watched = []

    def also_watch(self, fileobj, on_readable):
        """Call on_readable() whenever fileobj is readable during the test
        (the server turns other clients away this way)."""
        self.watched.append((fileobj, on_readable))

    def run(self, on_control):
        sel = self.net.selector()
        self.ctrl.setblocking(False)
        sel.register(self.ctrl, selectors.EVENT_READ, None)
        for fileobj, on_readable in self.watched:
            sel.register(fileobj, selectors.EVENT_READ, on_readable)
        for s in self.streams:
            s.conn.setblocking(False)
            if s.sender:
                s.retrans_base = s.retrans_mark = self.net.sample(s.conn)["retransmits"]
            sel.register(s.conn, selectors.EVENT_WRITE if s.sender else selectors.EVENT_READ, s)
        self.cpu = Cpu()
        self.start = now = time.monotonic()
        next_tick = now + INTERVAL
        stop_at = now + self.duration if self.duration else None
        try:
            while True:
                wake = next_tick if stop_at is None else min(next_tick, stop_at)
                for key, _ in sel.select(max(wake - time.monotonic(), 0)):
                    if key.data is None:
                        if self._control(on_control):
                            self._close_interval(time.monotonic(), final=True)
                            return
                    elif callable(key.data):
                        try:
                            key.data()
                        except (BlockingIOError, TimeoutError):
                            pass
                    elif key.data.open:
                        (self._send if key.data.sender else self._recv)(key.data, sel)
                now = time.monotonic()
                if now >= next_tick:
                    self._close_interval(min(now, next_tick + INTERVAL / 2))
                    next_tick += INTERVAL
                if stop_at is not None and now >= stop_at:
                    self._close_interval(now, final=True)
                    return
        finally:
            sel.close()
            self.ctrl.setblocking(True)

    def _control(self, on_control):
        try:
            data = self.ctrl.recv(4096)
        except BlockingIOError:
            return False
        if not data:
            raise P.ProtocolError("the control connection closed during the test")
        self.reader.feed(data)
        while (state := self.reader.state()) is not None:
            if on_control(state):
                return True
        return False

    def _send(self, s, sel):
        # whole blocks only: stock iperf3 reads a block at a time and waits
        # for all of it, so a send cut short continues where it stopped
        for _ in range(BURST):
            try:
                n = s.conn.send(self.payload[s.block_off:])
            except BlockingIOError:
                return
            except OSError:
                self._lost(s, sel)
                return
            s.bytes += n
            s.block_off = (s.block_off + n) % len(self.payload)

    def finish_blocks(self, timeout):
        """After the test: complete each sender's last block (see _send)."""
        for s in self.streams:
            if s.sender and s.open and s.block_off:
                s.conn.setblocking(True)
                s.conn.settimeout(timeout)
                try:
                    s.conn.sendall(self.payload[s.block_off:])
                    s.bytes += len(self.payload) - s.block_off
                except OSError:
                    pass
                s.block_off = 0

    def _recv(self, s, sel):
        for _ in range(BURST):
            try:
                n = s.conn.recv_into(self.sink)
            except BlockingIOError:
                return
            except OSError:
                n = 0
            if n == 0:
                self._lost(s, sel)
                return
            s.bytes += n

    def _lost(self, s, sel):
        s.open = False
        sel.unregister(s.conn)

    def drain(self, seconds=0.0):
        """After the test: read what is still arriving, without counting it,
        so a sending peer never stalls on a full window before it reads the
        control connection."""
        for s in self.streams:
            if s.sender or not s.open:
                continue
            try:
                while s.conn.recv_into(self.sink) > 0:
                    pass
            except OSError:
                pass

    def _close_interval(self, now, final=False):
        t0, t1 = self.interval_start, now - self.start
        if final:
            self.end = now
            self.cpu_percent = self.cpu.percent()
        if final and t1 - t0 < INTERVAL * 0.1:
            # a sliver after the last whole second: its bytes count in the totals only
            self.interval_start = t1
            return
        rows = []
        for s in self.streams:
            row = {"socket": s.id, "start": t0, "end": t1, "seconds": t1 - t0,
                   "bytes": s.bytes - s.mark, "sender": s.sender}
            if s.sender and s.open:
                tcp = self.net.sample(s.conn)
                row["retransmits"] = tcp["retransmits"] - s.retrans_mark
                s.retrans_mark = tcp["retransmits"]
                for k in ("snd_cwnd", "snd_wnd", "rtt", "rttvar", "pmtu"):
                    row[k] = tcp[k]
                s.max_cwnd = max(s.max_cwnd, tcp["snd_cwnd"])
                s.max_snd_wnd = max(s.max_snd_wnd, tcp["snd_wnd"])
                s.rtts.append(tcp["rtt"])
            elif s.sender:
                row.update(retransmits=0, snd_cwnd=0, snd_wnd=0, rtt=0, rttvar=0, pmtu=0)
            s.mark = s.bytes
            rows.append(row)
        self.interval_start = t1
        self.report.interval(rows)

    # ---- results -------------------------------------------------------------

    def seconds(self):
        return (self.end or time.monotonic()) - self.start

    def retransmits(self, s):
        if not s.sender:
            return -1
        if s.open:
            s.retrans_mark = self.net.sample(s.conn)["retransmits"]
        return s.retrans_mark - s.retrans_base

    def local_results(self):
        secs = self.seconds()
        return [{"id": s.id, "bytes": s.bytes, "retransmits": self.retransmits(s), "seconds": secs}
                for s in self.streams]


def _pattern(n):
    """The payload: iperf3 sends whatever its buffer holds; a fixed pattern."""
    base = bytes(range(256))
    return (base * (n // 256 + 1))[:n]
