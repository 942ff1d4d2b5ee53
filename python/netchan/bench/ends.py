"""The two stacks a role can run on, behind one small interface, so that
netchan and the kernel run the same application code in every mode:
listen/accept/connect, and per connection the socket-like calls both
have (sendall, recv, recv_into, shutdown, close). Zero-copy views exist on
netchan only."""
from __future__ import annotations

import socket
import struct
import time

# struct tcp_info (linux/tcp.h): offsets of the fields the interval lines show
_TI_SND_MSS, _TI_SND_CWND, _TI_TOTAL_RETRANS = 16, 80, 100


class NetchanEnd:
    kind = "netchan"

    def __init__(self, cfg, ip):
        import netchan
        kw = {}
        if cfg.get("window"):
            kw["rcvbuf"] = kw["sndbuf"] = cfg["window"]
        for knob in ("busy_poll", "busy_poll_mode"):
            if cfg.get(knob) is not None:
                kw[knob] = cfg[knob]
        self.stack = netchan.Stack(cfg["uri"], ip=ip, mtu=cfg.get("mtu"), **kw)
        self.listener = None

    def listen(self, port, backlog=128):
        self.listener = self.stack.listen(port, backlog=backlog)

    def accept(self, timeout=60):
        return self.listener.accept(timeout=timeout)

    def connect(self, host, port, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.stack.port.link_up:
            self.stack.poll(0.01)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.stack.port.uri}: the link never came up")
        return self.stack.connect((host, port), timeout=timeout)

    def retransmits(self, conns=()):
        return self.stack.stats()["tcp_retransmits"]

    @staticmethod
    def cwnd(conn):
        return conn.cwnd

    def close(self):
        self.stack.close()


class KernelEnd:
    kind = "kernel"

    def __init__(self, cfg, ip):
        self.ip = ip.split("/")[0] if ip else ""
        self.listener = None
        self.window = cfg.get("window")
        self.cc = cfg.get("kernel_cc")

    def _tune(self, s):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.cc:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, self.cc.encode())
        if self.window:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.window)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.window)

    def listen(self, port, backlog=128):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.ip, port))
        ls.listen(backlog)
        self.listener = ls

    def accept(self, timeout=60):
        self.listener.settimeout(timeout)
        c, _ = self.listener.accept()
        c.settimeout(None)
        self._tune(c)
        return c

    def connect(self, host, port, timeout=10):
        s = socket.socket()
        self._tune(s)
        if self.ip:
            s.bind((self.ip, 0))
        s.settimeout(timeout)
        s.connect((host, port))
        s.settimeout(None)
        return s

    @staticmethod
    def _info(conn):
        try:
            raw = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        except OSError:
            return None
        return raw if len(raw) >= 104 else None

    def retransmits(self, conns=()):
        total = 0
        for c in conns:
            raw = self._info(c)
            if raw:
                total += struct.unpack_from("I", raw, _TI_TOTAL_RETRANS)[0]
        return total

    @classmethod
    def cwnd(cls, conn):
        raw = cls._info(conn)
        if not raw:
            return None
        mss, = struct.unpack_from("I", raw, _TI_SND_MSS)
        cwnd, = struct.unpack_from("I", raw, _TI_SND_CWND)
        return mss * cwnd

    def close(self):
        if self.listener is not None:
            self.listener.close()


def make_end(kind, cfg, ip):
    return (NetchanEnd if kind == "netchan" else KernelEnd)(cfg, ip)


def wait_readable(end, conns, timeout=1.0):
    """The connections of conns with bytes (or EOF) to read, waiting up to
    timeout: the stack's own wait on netchan, select on the kernel."""
    if end.kind == "netchan":
        return [c for c, _ in end.stack.wait(conns, timeout=timeout)]
    import select
    r, _, _ = select.select(conns, [], [], timeout)
    return r
