"""Flow control: the receive window we advertise (SWS avoidance, zero window,
window updates when the application reads), the peer's window (never sent
beyond, zero-window probing with backoff by the persist timer) and the
bounded out-of-order queue."""
import pytest

from tcp_harness import IRS, ISS, payload
from tcp_tools import MSS, ack, advance_to, counter, data_of, send_segments  # noqa: F401

RCVBUF = 8192


def small_receiver(make_peer, **kw):
    peer = make_peer(rcvbuf=RCVBUF)
    return peer, peer.established(quickack=64, **kw)


def fill(peer, n, off=0):
    """The peer sends n bytes from stream offset off in segments of at most MSS."""
    while n:
        k = min(n, MSS)
        peer.send("PA", seq=IRS + 1 + off, ack=ISS + 1, data=b"f" * k)
        off += k
        n -= k
    return peer.recv()


# ---- the window we advertise --------------------------------------------------

def test_window_shrinks_as_data_waits_unread(make_peer):
    peer, conn = small_receiver(make_peer)
    acks = fill(peer, 3000)
    assert [a.window for a in acks] == [RCVBUF - MSS, RCVBUF - 2 * MSS, RCVBUF - 3000]


def test_zero_window_when_the_application_does_not_read(make_peer):
    peer, conn = small_receiver(make_peer)
    acks = fill(peer, RCVBUF)
    assert acks[-1].ack == IRS + 1 + RCVBUF and acks[-1].window == 0


def test_data_beyond_a_zero_window_is_not_accepted(make_peer):
    peer, conn = small_receiver(make_peer)
    fill(peer, RCVBUF)
    peer.send("PA", seq=IRS + 1 + RCVBUF, ack=ISS + 1, data=b"x" * 100)
    peer.expect("A", ack=IRS + 1 + RCVBUF, win=0)
    assert conn.readable == RCVBUF


def test_reading_less_than_a_useful_amount_sends_no_update(make_peer):
    peer, conn = small_receiver(make_peer)
    fill(peer, RCVBUF)
    conn.recv(1000)
    peer.expect_nothing()


def test_small_read_does_not_open_the_window_in_acks(make_peer):
    """Receiver SWS avoidance: the window stays shut until it can grow by
    min(buffer / 2, MSS); an ACK sent meanwhile still says 0."""
    peer, conn = small_receiver(make_peer)
    fill(peer, RCVBUF)
    conn.recv(1000)
    peer.send("A", seq=IRS + 1 + RCVBUF - 1, ack=ISS + 1)  # below the window: forces an ACK
    assert peer.expect("A").window == 0


def test_reading_opens_the_window_with_an_update(make_peer):
    peer, conn = small_receiver(make_peer)
    fill(peer, RCVBUF)
    conn.recv(4000)
    seg = peer.expect("A", ack=IRS + 1 + RCVBUF)
    assert seg.window == 4000


def test_reading_with_an_ack_owed_sends_it_at_once(peer):
    """A big window is not updated on every read (only once the offer has
    halved), but when an ACK is owed anyway (the third segment waits for the
    delayed-ACK timer) a read that frees two segments sends it now: the
    sender's flight may have ended on that odd segment."""
    conn = peer.established(quickack=0, snd_wscale=7, rcv_wscale=7)
    acks = fill(peer, 3 * MSS)
    assert [a.ack for a in acks] == [IRS + 1 + 2 * MSS]     # every second segment
    assert conn.recv(3 * MSS, timeout=0) == b"f" * (3 * MSS)
    peer.expect("A", ack=IRS + 1 + 3 * MSS)                # no timer needed


def test_reading_with_no_ack_owed_sends_no_update_before_half(peer):
    conn = peer.established(quickack=0, snd_wscale=7, rcv_wscale=7)
    fill(peer, 2 * MSS)                                     # ACKed at once: nothing owed
    conn.recv(2 * MSS, timeout=0)
    peer.expect_nothing()


def test_consume_after_recv_view_sends_the_update(make_peer):
    peer, conn = small_receiver(make_peer)
    fill(peer, RCVBUF)
    view = conn.recv_view()
    assert len(view) == RCVBUF
    view.release()
    peer.expect_nothing()                           # viewing is not reading
    conn.consume(RCVBUF)
    assert peer.expect("A").window == RCVBUF


def test_a_live_view_keeps_the_window_closed(make_peer):
    peer, conn = small_receiver(make_peer)
    fill(peer, RCVBUF)
    view = conn.recv_view()
    conn.consume(RCVBUF)                            # consumed, but still viewed
    peer.expect_nothing()
    view.release()
    assert peer.expect("A").window == RCVBUF


# ---- the peer's window ----------------------------------------------------------

def test_sender_never_exceeds_the_offered_window(peer):
    conn = peer.established(snd_wnd=3 * MSS)
    segs = send_segments(peer, conn, 10)
    assert data_of(segs) == [(ISS + 1 + i * MSS, MSS) for i in range(3)]
    ack(peer, ISS + 1 + MSS, win=3 * MSS)           # one acked: room for exactly one more
    assert data_of(peer.recv()) == [(ISS + 1 + 3 * MSS, MSS)]


def test_window_update_without_new_ack_releases_data(peer):
    conn = peer.established(snd_wnd=2 * MSS)
    send_segments(peer, conn, 5)
    ack(peer, ISS + 1, win=4 * MSS)
    assert data_of(peer.recv()) == [(ISS + 1 + 2 * MSS, MSS), (ISS + 1 + 3 * MSS, MSS)]


def test_shrunk_window_stops_new_data(peer):
    conn = peer.established()
    send_segments(peer, conn, 20)                   # 10 out (cwnd)
    ack(peer, ISS + 1 + MSS, win=MSS)               # the peer shrinks its window
    assert peer.recv() == []
    assert conn.info()["snd_wnd"] == MSS


def test_old_window_update_is_ignored(peer):
    """RFC 9293 3.10.7.4: the window comes only from a segment newer than
    the one it was last taken from (SND.WL1 / SND.WL2)."""
    conn = peer.established(quickack=8)
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"n" * 10, win=4000)
    peer.send("PA", seq=IRS + 11, ack=ISS + 1, data=b"n" * 10, win=5000)
    # a retransmission of older data (acceptable: it ends in the window) with a stale window
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"n" * 30, win=100)
    assert conn.info()["snd_wnd"] == 5000
    assert conn.readable == 30


# ---- zero-window probing (persist timer) -----------------------------------------

def zero_window(peer, conn):
    ack(peer, ISS + 1, win=0)
    conn.send(b"p" * 500)
    assert peer.recv() == []


def test_zero_window_probe_after_the_rto(peer):
    conn = peer.established()
    zero_window(peer, conn)
    peer.advance(0.999)
    peer.expect_nothing()
    peer.advance(0.001)
    probe = peer.expect("A", seq=ISS + 1)
    assert payload(probe) == b"p"                   # one byte beyond the window
    assert counter(peer.stack, "tcp_persist_probes") == 1


def test_probes_back_off_exponentially(peer):
    conn = peer.established()
    zero_window(peer, conn)
    start = peer.clock.now_ns
    for fire_at in (1, 3, 7, 15):
        advance_to(peer, start + int((fire_at - 0.001) * 1e9))
        peer.expect_nothing()
        advance_to(peer, start + int(fire_at * 1e9))
        peer.expect("A", seq=ISS + 1)
        ack(peer, ISS + 1, win=0)                   # answered: still shut


def test_probe_backoff_is_capped_at_rto_max(make_peer):
    peer = make_peer(rto_max=3.0)
    conn = peer.established()
    zero_window(peer, conn)
    start = peer.clock.now_ns
    for fire_at in (1, 3, 6, 9, 12):
        advance_to(peer, start + int((fire_at - 0.001) * 1e9))
        peer.expect_nothing()
        advance_to(peer, start + int(fire_at * 1e9))
        peer.expect("A", seq=ISS + 1)
        ack(peer, ISS + 1, win=0)


def test_answered_probes_never_kill_the_connection(make_peer):
    peer = make_peer(max_retries=2, rto_max=2.0)
    conn = peer.established()
    zero_window(peer, conn)
    for _ in range(10):
        peer.advance(2)
        peer.expect("A", seq=ISS + 1)
        ack(peer, ISS + 1, win=0)
    assert conn.state == "ESTABLISHED"


def test_a_window_too_small_to_use_is_probed_too(peer):
    """Nothing in flight, data waiting, and a window too small to send into
    (SWS avoidance holds it back): if the peer's window update is lost,
    only a probe can bring it; the persist timer must run (RFC 1122
    4.2.3.4 override timeout; Linux arms its probe timer likewise)."""
    conn = peer.established()
    send_segments(peer, conn, 20)
    ack(peer, ISS + 1 + 10 * MSS, win=56)           # all acked, 56 bytes of window
    peer.expect_nothing()
    peer.advance(1)
    probe = peer.expect("A", seq=ISS + 1 + 10 * MSS)
    assert len(payload(probe)) == 1
    ack(peer, ISS + 2 + 10 * MSS, win=65535)        # the update that had been lost
    assert len(data_of(peer.recv())) >= 1


def test_window_opening_resumes_sending_and_stops_probing(peer):
    conn = peer.established()
    zero_window(peer, conn)
    peer.advance(1)
    peer.expect("A", seq=ISS + 1)                   # the probe: 1 byte
    ack(peer, ISS + 2, win=65535)                   # it was taken, window open again
    assert data_of(peer.recv()) == [(ISS + 2, 499)]
    assert peer.tcb(conn)["t_persist"] == 0
    ack(peer, ISS + 501)
    peer.advance(30)
    peer.expect_nothing()


# ---- the out-of-order queue bound --------------------------------------------------

def test_ooo_queue_keeps_at_most_eight_holes(peer):
    conn = peer.established(sack=True)
    for i in range(8):
        peer.send("PA", seq=IRS + 1 + 200 * (i + 1), ack=ISS + 1, data=b"o" * 100)
    assert len(peer.recv()) == 8
    assert counter(peer.stack, "tcp_ooo_dropped") == 0
    peer.send("PA", seq=IRS + 1 + 200 * 9, ack=ISS + 1, data=b"o" * 100)   # a 9th range
    peer.expect("A", ack=IRS + 1)                   # still ACKed
    assert counter(peer.stack, "tcp_ooo_dropped") == 1
    assert conn.info()["ooo_ranges"] == 8


def test_ooo_queue_full_still_takes_data_joining_a_range(peer):
    conn = peer.established()
    for i in range(8):
        peer.send("PA", seq=IRS + 1 + 200 * (i + 1), ack=ISS + 1, data=b"o" * 100)
    peer.recv()
    peer.send("PA", seq=IRS + 1 + 300, ack=ISS + 1, data=b"j" * 100)   # extends [200, 300)
    peer.expect("A", ack=IRS + 1)
    assert counter(peer.stack, "tcp_ooo_dropped") == 0
    assert conn.info()["ooo_ranges"] == 7                # [200, 400) met [400, 500)


def test_ooo_queue_full_still_takes_in_order_data(peer):
    conn = peer.established()
    for i in range(8):
        peer.send("PA", seq=IRS + 1 + 200 * (i + 1), ack=ISS + 1, data=b"o" * 100)
    peer.recv()
    peer.send("PA", seq=IRS + 1, ack=ISS + 1, data=b"i" * 200)
    peer.expect("A", ack=IRS + 1 + 300)             # filled up to the next hole
    assert conn.readable == 300 and conn.info()["ooo_ranges"] == 7
