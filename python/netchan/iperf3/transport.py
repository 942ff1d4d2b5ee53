"""The two networks the iperf3 roles run on, behind one small interface:
a netchan Stack (what `netchan iperf3` uses) and the kernel's sockets (the
prototype the protocol was pinned down with against stock iperf3, kept so
the protocol tests run on loopback without root).

Both hand out socket-like objects with the same calls (settimeout, recv,
recv_into, send, sendall, setblocking, close) and a selectors.BaseSelector
that reports their readiness; only listening, connecting and the TCP
state sample differ.
"""
from __future__ import annotations

import selectors
import socket
import struct


class NetchanNet:
    """The iperf3 roles on one netchan Stack (all streams in one stack,
    one thread: the selector drives the stack while it waits)."""

    name = "netchan"

    def __init__(self, stack):
        self.stack = stack

    def listen(self, port):
        return self.stack.listen(port)

    def accept(self, listener, timeout):
        return listener.accept(timeout=timeout)

    def connect(self, address, timeout):
        return self.stack.connect(address, timeout=timeout)

    def selector(self):
        from netchan.selector import NetchanSelector
        return NetchanSelector(self.stack)

    def mss(self):
        return self.stack.mtu - 40

    def sample(self, conn):
        """TCP state of a sending stream, in iperf3's units (bytes, µs)."""
        i = conn.info()
        return {"retransmits": i["retransmits"], "snd_cwnd": i["cwnd"], "snd_wnd": i["snd_wnd"],
                "rtt": int(i["srtt"] * 1e6), "rttvar": int(i["rttvar"] * 1e6),
                "pmtu": self.stack.mtu}

    def congestion(self, conn):
        return conn.cc

    def close(self, conn, abort=False):
        try:
            conn.abort() if abort else conn.close()
        except OSError:
            pass


# struct tcp_info (linux/tcp.h): 8 one-byte fields, then 32-bit ones from tcpi_rto on
_TCPI_U32_AT = 8
_TCPI = {"snd_mss": 2, "pmtu": 13, "rtt": 15, "rttvar": 16, "snd_cwnd": 18, "total_retrans": 23}


class KernelNet:
    """The iperf3 roles on the kernel's TCP (loopback tests, the prototype)."""

    name = "kernel"

    def __init__(self, bind="127.0.0.1"):
        self.bind = bind

    def listen(self, port):
        return socket.create_server((self.bind, port), reuse_port=False, backlog=128)

    def accept(self, listener, timeout):
        listener.settimeout(timeout)
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def connect(self, address, timeout):
        conn = socket.create_connection(address, timeout=timeout)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def selector(self):
        return selectors.DefaultSelector()

    def mss(self):
        return 1448

    def sample(self, conn):
        raw = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        u32 = struct.unpack_from("<24I", raw, _TCPI_U32_AT)
        return {"retransmits": u32[_TCPI["total_retrans"]],
                "snd_cwnd": u32[_TCPI["snd_cwnd"]] * u32[_TCPI["snd_mss"]], "snd_wnd": 0,
                "rtt": u32[_TCPI["rtt"]], "rttvar": u32[_TCPI["rttvar"]], "pmtu": u32[_TCPI["pmtu"]]}

    def congestion(self, conn):
        return conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()

    def close(self, conn, abort=False):
        try:
            if abort:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        except OSError:
            pass
