"""Additions to tests/tcp_harness.py for the loss-recovery, congestion,
option and flow-control tests (tests/tcp/test_tcp_<area>.py): small builders for what those tests send
and read again and again. Kept apart from tcp_harness.py so that the
state-machine tests and these can grow without stepping on each other.

    from tcp_tools import sack, ts, data_of, counter

    def test_x(make_peer):                              # the fixture is in conftest.py
        peer = make_peer(rto_min=0.2, delayed_ack=0)    # any netchan.Stack option
        conn = peer.established(sack=True)
        segs = send_segments(peer, conn, 3)             # 3 full segments out
        peer.send("A", ack=ISS + 1, options=[sack(segs[1])])
"""
from tcp_harness import IRS, ISS, MASK, S, payload

MSS = 1460


def sack(*blocks):
    """The SACK option for blocks given as (left, right) pairs or as scapy
    segments (each segment's own [seq, seq + len))."""
    flat = []
    for b in blocks:
        if hasattr(b, "seq"):
            b = (b.seq, b.seq + len(payload(b)))
        flat += [b[0] & MASK, b[1] & MASK]
    return ("SAck", tuple(flat))


def ts(val, ecr=0):
    return ("Timestamp", (val & MASK, ecr & MASK))


def sack_blocks(seg):
    """[(left, right), ...] of a segment's SACK option, [] without one."""
    for k, v in seg.options:
        if k == "SAck":
            return [(v[i], v[i + 1]) for i in range(0, len(v), 2)]
    return []


def data_of(segs):
    """The segments that carry data, as (seq, len) pairs."""
    return [(s.seq, len(payload(s))) for s in segs if payload(s)]


def counter(stack, name):
    return stack.stats()[name]


def send_segments(peer, conn, n, size=MSS):
    """Queue n * size bytes and return the segments that go out at once."""
    conn.send(bytes(range(256)) * (n * size // 256) + bytes(n * size % 256))
    return peer.recv()


def burst(peer, segments):
    """Put several segments (scapy packets from peer.segment) on the link,
    then run the stack once: they arrive in one receive burst."""
    for seg in segments:
        peer.port.send(bytes(seg))
    peer.stack.poll()


def ack(peer, ack_no, seq=IRS + 1, **kw):
    """A bare ACK from the peer."""
    peer.send("A", seq=seq, ack=ack_no, **kw)


def at(peer, seconds_from_now):
    """Absolute virtual time (ns) seconds from now."""
    return peer.clock.now_ns + int(seconds_from_now * S)


def advance_to(peer, t_ns):
    peer.clock.set(t_ns)
    peer.stack.poll()


__all__ = ["burst", "sack", "ts", "sack_blocks", "data_of", "counter", "send_segments",
           "ack", "at", "advance_to", "MSS", "ISS", "IRS"]
