"""Channels are leased per poll (iface/classify.pxi, iface/poll.pxi): a
connection gets one of the stack's CHAN_POOL channels at its first frame in
a poll and gives it back after its drain, so no connection holds a channel
between polls, and one poll's worth of frames always fits."""
from tcp_harness import IRS, ISS, LOCAL_PORT, PEER_IP, PEER_PORT

from netchan._testing import debug_connection, debug_sizes, debug_tcb

POOL = debug_sizes()["channel_pool"]


def _connections(peer, n):
    conns = []
    for i in range(n):
        c = debug_connection(peer.stack, "ESTABLISHED", LOCAL_PORT, (PEER_IP, PEER_PORT + i),
                             iss=ISS, irs=IRS, snd_wnd=65535)
        peer.held.append(c)
        conns.append(c)
    return conns


def _data(peer, i, seq_off=0, data=b"x", flags="A"):
    return bytes(peer.segment(flags, sport=PEER_PORT + i, seq=IRS + 1 + seq_off,
                              ack=ISS + 1, data=data))


def test_pool_is_one_poll_of_distinct_connections():
    sizes = debug_sizes()
    assert sizes["channel_pool"] == 128          # RX_ROUNDS x BURST
    assert sizes["channel"] == 256 + 128 * 4     # ring header + one poll's slots


def test_more_connections_than_channels_in_one_poll(peer):
    """200 connections with a segment each waiting at once: the first poll
    takes 128 frames for 128 distinct connections (the whole pool), the next
    the rest; every segment is taken in and nobody keeps a channel."""
    n = 200
    conns = _connections(peer, n)
    assert not any(debug_tcb(c)["chan_leased"] for c in conns)
    for i in range(n):
        peer.port.send(_data(peer, i, data=bytes([i])))
    before = peer.stack.stats()["tcp_segs_in"]
    assert peer.stack.poll(0) > 0
    assert peer.stack.stats()["tcp_segs_in"] - before == POOL
    assert not any(debug_tcb(c)["chan_leased"] for c in conns)
    while peer.stack.stats()["tcp_segs_in"] - before < n:
        assert peer.stack.poll(0) > 0
    for i, c in enumerate(conns):
        assert c.recv(10, timeout=0) == bytes([i])
        assert not debug_tcb(c)["chan_leased"]


def test_frames_after_a_reset_are_freed_and_the_channel_comes_back_empty(peer):
    """A connection reset in the middle of its batch keeps its control block
    (the handle holds it) but not its channel: the frames behind the RST are
    freed with the lease. The channel it had then holds a whole poll again."""
    a, b = _connections(peer, 2)
    peer.port.send(_data(peer, 0, data=b"ab"))
    peer.port.send(_data(peer, 0, seq_off=2, flags="R"))
    for k in range(5):
        peer.port.send(_data(peer, 0, seq_off=2 + k, data=b"z"))
    peer.stack.poll(0)
    assert a.state == "CLOSED"
    assert not debug_tcb(a)["chan_leased"]
    # 128 segments for b in one poll: its channel (the one a had) fits them all
    peer.recv()
    for k in range(POOL):
        peer.port.send(_data(peer, 1, seq_off=k, data=b"y"))
    before = peer.stack.stats()["tcp_segs_in"]
    peer.stack.poll(0)
    assert peer.stack.stats()["tcp_segs_in"] - before == POOL
    assert b.readable == POOL
    assert not debug_tcb(b)["chan_leased"]


def test_control_block_stays_small():
    """672 B: 632 B since the channel became a one-byte lease and the padding
    holes were filled (648 B before; issue 9 measured 640 B plus a 1,216 B
    channel), plus 48 B for issue 12 (RACK-TLP 24, PRR 12, ECN 4, PMTU raise 6
    and padding)."""
    assert debug_sizes()["Tcb"] <= 680
