"""Packet-level TCP tests in the style of smoltcp (and packetdrill): the test
plays the remote TCP through the bare other end of a pair link, building and
dissecting segments with scapy (an independent implementation of the wire
format), against a netchan stack on a virtual clock.

    def test_something(peer):
        conn = peer.established()                 # a connection built directly in ESTABLISHED
        peer.send("A", seq=IRS + 1, ack=ISS + 1, data=b"abc")
        seg = peer.expect("A", ack=IRS + 4)       # exactly one segment comes back
        peer.expect_nothing()

Conventions: our stack is LOCAL_IP:LOCAL_PORT with ISS (its initial sequence
number), the peer is PEER_IP:PEER_PORT with IRS. Sequence arguments are
plain ints and wrap mod 2**32 (pass any int; it is masked).
"""
from scapy.all import IP, TCP, Ether, Raw

from netchan._testing import debug_arp_add, debug_connection, debug_tcb

LOCAL_IP = "198.18.0.1"
PEER_IP = "198.18.0.2"
LOCAL_PORT = 80
PEER_PORT = 49152
ISS = 1000
IRS = 5000
MASK = 0xFFFFFFFF
S = 1_000_000_000          # one second in ns


def _flags_str(f):
    return str(TCP(flags=f).flags) if not isinstance(f, str) else str(TCP(flags=f).flags)


class Peer:
    """The remote end of the connection under test."""

    def __init__(self, stack, port, clock):
        self.stack = stack
        self.port = port
        self.clock = clock
        self.mac = port.mac
        self.ts_val = 100           # the peer's timestamp clock (advance it yourself)
        self.held = []              # connections built for the test (see connection)
        debug_arp_add(stack, PEER_IP, self.mac)
        self.port.recv()            # drop anything the stack sent so far

    # ---- building connections ---------------------------------------------------

    def connection(self, state, iss=ISS, irs=IRS, **kw):
        """A Connection built directly in `state` (see debug_connection)."""
        kw.setdefault("snd_wnd", 65535)
        conn = debug_connection(self.stack, state, LOCAL_PORT, (PEER_IP, PEER_PORT),
                                iss=iss & MASK, irs=irs & MASK, **kw)
        # the application holds it: a Connection collected unclosed is
        # closed (FIN), which would write into every script
        self.held.append(conn)
        return conn

    def established(self, **kw):
        return self.connection("ESTABLISHED", **kw)

    def tcb(self, conn):
        return debug_tcb(conn)

    # ---- sending -----------------------------------------------------------------

    def segment(self, flags="A", seq=IRS + 1, ack=ISS + 1, win=65535, data=b"",
                options=None, sport=PEER_PORT, dport=LOCAL_PORT, src=PEER_IP, dst=LOCAL_IP,
                urg=0):
        """The scapy packet for one segment from the peer."""
        pkt = (Ether(dst=self.stack.mac, src=self.mac) / IP(src=src, dst=dst) /
               TCP(sport=sport, dport=dport, flags=flags, seq=seq & MASK,
                   ack=(ack & MASK) if ack is not None else 0, window=win,
                   options=options or [], urgptr=urg))
        if data:
            pkt = pkt / Raw(data)
        return pkt

    def send(self, flags="A", **kw):
        """Send one segment and run the stack once."""
        self.port.send(bytes(self.segment(flags, **kw)))
        self.stack.poll()

    def send_raw(self, frame):
        self.port.send(bytes(frame))
        self.stack.poll()

    def handshake(self, irs=IRS, options=None, win=65535):
        """Open a connection to a listener on LOCAL_PORT the way a client
        does: SYN, check the stack's SYN-ACK, ACK it. Returns the stack's ISS
        (the connection is then waiting in the listener's accept queue)."""
        self.send("S", seq=irs, ack=None, win=win, options=options)
        synack = self.expect("SA", ack=irs + 1)
        self.send("A", seq=irs + 1, ack=synack.seq + 1, win=win)
        return synack.seq

    # ---- receiving ---------------------------------------------------------------

    def recv(self):
        """Every TCP segment the stack sent since the last call (scapy TCP
        layers, with .payload bytes available as bytes(seg.payload))."""
        self.stack.poll()
        out = []
        for f in self.port.recv(64):
            pkt = Ether(f)
            if TCP in pkt:
                out.append(pkt[TCP])
        return out

    def expect(self, flags=None, seq=None, ack=None, win=None, data=None, count=1):
        """Exactly `count` segments arrive; check the first against what is
        given. Returns it (or the list when count > 1)."""
        segs = self.recv()
        assert len(segs) == count, f"expected {count} segment(s), got {[describe(s) for s in segs]}"
        s = segs[0]
        if flags is not None:
            assert str(s.flags) == _flags_str(flags), f"flags: {describe(s)}"
        if seq is not None:
            assert s.seq == seq & MASK, f"seq: {describe(s)} (want {seq & MASK})"
        if ack is not None:
            assert s.ack == ack & MASK, f"ack: {describe(s)} (want {ack & MASK})"
        if win is not None:
            assert s.window == win, f"window: {describe(s)} (want {win})"
        if data is not None:
            assert payload(s) == data, f"data: {describe(s)}"
        return s if count == 1 else segs

    def expect_nothing(self):
        segs = self.recv()
        assert segs == [], f"expected silence, got {[describe(s) for s in segs]}"

    # ---- time --------------------------------------------------------------------

    def advance(self, seconds):
        """Move the virtual clock and let timers fire."""
        self.clock.advance(int(seconds * S))
        self.stack.poll()


def payload(seg):
    return bytes(seg.payload) if seg.payload else b""


def options(seg):
    """{name: value} of a scapy TCP segment's options."""
    return {k: v for k, v in seg.options}


def describe(seg):
    return (f"<{seg.flags} seq={seg.seq} ack={seg.ack} win={seg.window} "
            f"len={len(payload(seg))} opts={seg.options}>")
