"""Delayed ACKs (RFC 9293 3.8.6.3, RFC 5681 4.2: every second full-sized
segment, else within delayed_ack; at once for out-of-order data, hole fills
and the first segments of a connection) and Nagle's algorithm (RFC 1122
4.2.3.4, with the nodelay switch)."""
from tcp_harness import IRS, ISS, LOCAL_PORT, payload
from tcp_tools import MSS, ack, burst, data_of, sack_blocks, send_segments  # noqa: F401


def data(peer, off, n=MSS):
    peer.send("PA", seq=IRS + 1 + off, ack=ISS + 1, data=b"d" * n)


# ---- delayed ACK -----------------------------------------------------------------

def test_single_segment_is_acked_after_40ms(peer):
    peer.established()
    data(peer, 0, 100)
    peer.advance(0.039)
    peer.expect_nothing()
    peer.advance(0.001)
    peer.expect("A", ack=IRS + 101)


def test_every_second_full_segment_is_acked_at_once(peer):
    peer.established()
    data(peer, 0)
    peer.expect_nothing()
    data(peer, MSS)
    peer.expect("A", ack=IRS + 1 + 2 * MSS)
    data(peer, 2 * MSS)
    peer.expect_nothing()                           # the count starts again


def test_delayed_ack_time_is_configurable(make_peer):
    peer = make_peer(delayed_ack=0.2)
    peer.established()
    data(peer, 0, 100)
    peer.advance(0.199)
    peer.expect_nothing()
    peer.advance(0.001)
    peer.expect("A", ack=IRS + 101)


def test_delayed_ack_off_acks_every_segment(make_peer):
    peer = make_peer(delayed_ack=0)
    peer.established()
    data(peer, 0, 100)
    peer.expect("A", ack=IRS + 101)


def test_out_of_order_segment_is_acked_at_once(peer):
    peer.established()
    data(peer, 1000, 100)
    peer.expect("A", ack=IRS + 1)


def test_segment_filling_a_hole_is_acked_at_once(peer):
    peer.established()
    data(peer, 100, 100)
    peer.recv()
    data(peer, 0, 100)
    peer.expect("A", ack=IRS + 201)


def test_first_segments_are_acked_at_once_with_quickack(peer):
    peer.established(quickack=3)
    for i in range(3):
        data(peer, i * 100, 100)
        peer.expect("A", ack=IRS + 1 + (i + 1) * 100)
    data(peer, 300, 100)
    peer.expect_nothing()                           # quick-ACK used up: delayed again


def test_a_new_connection_acks_its_first_segments_at_once(peer):
    listener = peer.stack.listen(LOCAL_PORT)
    peer.send("S", seq=IRS, ack=None, options=[("MSS", 1460)])
    synack = peer.expect("SA")
    peer.send("A", seq=IRS + 1, ack=synack.seq + 1)
    conn = listener.accept(timeout=0)       # held: a collected one would close  # noqa: F841
    for i in range(16):
        peer.send("PA", seq=IRS + 1 + i * 10, ack=synack.seq + 1, data=b"q" * 10)
        peer.expect("A", ack=IRS + 11 + i * 10)
    peer.send("PA", seq=IRS + 161, ack=synack.seq + 1, data=b"q" * 10)
    peer.expect_nothing()


def test_quickack_again_after_an_idle_period(peer):
    peer.established()
    data(peer, 0, 100)
    peer.advance(0.04)
    peer.expect("A")
    peer.advance(5)                                 # idle for longer than the RTO
    data(peer, 100, 100)
    peer.expect("A", ack=IRS + 201)


def full(peer, i):
    return peer.segment("A", seq=IRS + 1 + i * MSS, ack=ISS + 1, data=b"b" * MSS)


def test_a_burst_of_segments_gets_an_ack_for_every_second_one(peer):
    """Segments that arrive in one receive burst are ACKed as if they had
    come one by one: not one stretch ACK for the whole burst."""
    peer.established()
    burst(peer, [full(peer, i) for i in range(6)])
    acks = peer.recv()
    assert [a.ack for a in acks] == [IRS + 1 + 2 * MSS, IRS + 1 + 4 * MSS, IRS + 1 + 6 * MSS]


def test_a_burst_of_out_of_order_segments_gets_a_duplicate_ack_each(peer):
    peer.established(sack=True)
    burst(peer, [full(peer, i) for i in (1, 2, 3)])           # segment 0 lost
    acks = peer.recv()
    assert [a.ack for a in acks] == [IRS + 1] * 3
    assert [sack_blocks(a)[0][1] for a in acks] == [IRS + 1 + i * MSS for i in (2, 3, 4)]


def test_outgoing_data_carries_the_pending_ack(peer):
    conn = peer.established()
    data(peer, 0, 100)
    conn.send(b"reply")
    peer.expect("PA", ack=IRS + 101, data=b"reply")
    peer.advance(0.05)
    peer.expect_nothing()                           # the delayed ACK was cancelled


# ---- Nagle ------------------------------------------------------------------------

def test_small_segment_goes_at_once_when_nothing_is_unacked(peer):
    conn = peer.established()
    conn.send(b"a" * 10)
    peer.expect("PA", data=b"a" * 10)


def test_small_segment_waits_while_data_is_unacked(peer):
    conn = peer.established()
    conn.send(b"a" * 10)
    peer.recv()
    conn.send(b"b" * 10)
    peer.expect_nothing()
    peer.advance(0.5)
    peer.expect_nothing()                           # it waits for the ACK, not a timer


def test_held_segment_goes_when_the_ack_arrives(peer):
    conn = peer.established()
    conn.send(b"a" * 10)
    peer.recv()
    conn.send(b"b" * 10)
    conn.send(b"c" * 10)
    ack(peer, ISS + 11)
    peer.expect("PA", seq=ISS + 11, data=b"b" * 10 + b"c" * 10)     # coalesced


def test_nodelay_sends_small_segments_at_once(peer):
    conn = peer.established(nodelay=True)
    conn.send(b"a" * 10)
    conn.send(b"b" * 10)
    segs = peer.recv()
    assert data_of(segs) == [(ISS + 1, 10), (ISS + 11, 10)]


def test_turning_nodelay_on_releases_held_data(peer):
    conn = peer.established()
    conn.send(b"a" * 10)
    peer.recv()
    conn.send(b"b" * 10)
    peer.expect_nothing()
    conn.nodelay = True
    peer.expect("PA", seq=ISS + 11, data=b"b" * 10)


def test_stack_default_nodelay(make_peer):
    peer = make_peer(nodelay=True)
    conn = peer.established()
    assert conn.nodelay
    conn.send(b"a" * 10)
    conn.send(b"b" * 10)
    assert len(peer.recv()) == 2


def test_full_sized_segments_are_not_delayed(peer):
    conn = peer.established()
    conn.send(b"a" * 10)
    peer.recv()
    conn.send(b"b" * (2 * MSS + 100))
    segs = peer.recv()
    assert [len(payload(s)) for s in segs] == [MSS, MSS]     # the 100-byte tail waits
    ack(peer, ISS + 11 + 2 * MSS)
    peer.expect("PA", seq=ISS + 11 + 2 * MSS, data=b"b" * 100)


def test_nagle_sends_a_segment_of_half_the_peer_window(peer):
    """RFC 1122 4.2.3.4: a segment of at least half the largest window the
    peer offered may go even with data unacked (sender SWS avoidance)."""
    conn = peer.established(snd_wnd=1000)
    conn.send(b"a" * 10)
    peer.recv()
    conn.send(b"b" * 600)
    peer.expect("PA", seq=ISS + 11, data=b"b" * 600)
