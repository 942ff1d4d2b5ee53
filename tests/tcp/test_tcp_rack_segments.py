"""RACK on per-segment send times (RFC 8985 6.1, tcp/segring.pxi): the runs
of bytes in flight with their send stamps, RACK's reference taken from the
most recently *sent* delivered run, the reordering window's D-SACK growth and
decay, the probe timeout and min_RTT's window. Same set-up as
test_tcp_rack.py: SRTT = min_RTT = 10 ms from one timed segment, then a
scripted loss."""
from netchan._testing import debug_seg_ring

from tcp_tools import MSS, ack, counter, data_of, sack
from test_tcp_rack import BASE, PTO, RTT, TICK, sack_ack, seq_of, timed_conn


def runs(conn):
    """[(first segment index, one past the last, flags)] of the ring."""
    ring = debug_seg_ring(conn)
    return [((a - BASE) // MSS, (b - BASE) // MSS, f) for a, b, _, f in ring["runs"]]


# ---- the records -------------------------------------------------------------------

def test_a_burst_is_one_run_split_where_sack_blocks_begin_and_end(make_peer):
    peer, conn = timed_conn(make_peer, 6)
    assert runs(conn) == [(0, 6, "")]
    peer.advance(RTT)
    sack_ack(peer, (2, 4))
    assert runs(conn)[:3] == [(0, 2, ""), (2, 4, "s"), (4, 6, "")]


def test_a_retransmission_gets_its_own_stamp(make_peer):
    peer, conn = timed_conn(make_peer, 6)
    peer.advance(RTT)
    assert data_of(sack_ack(peer, (1, 4)))[0] == (seq_of(0), MSS)   # 3 SACKed: 0 lost, resent
    ring = debug_seg_ring(conn)["runs"]
    assert runs(conn)[:2] == [(0, 1, "r"), (1, 4, "s")]
    assert ring[0][2] > ring[1][2]                  # sent after the first flight


def test_an_idle_connection_holds_no_ring(make_peer):
    peer, conn = timed_conn(make_peer, 2)
    ack(peer, seq_of(2))
    assert debug_seg_ring(conn) is None             # no window slot: nothing in flight


# ---- RACK's reference: the most recently sent delivered segment ------------------------

def test_original_acked_soon_after_its_retransmission_marks_nothing_later(make_peer):
    """0 is resent at T0 + 10 ms; 1 ms later the cumulative ACK covers it: the
    original arrived (sooner than min_RTT after the retransmission), so RACK's
    reference stays at the first flight (T0). Taking the retransmission's
    stamp would make 5-7 (sent at T0, 11 ms before, RACK.rtt 1 ms, window 0
    in recovery) look lost and resend them."""
    peer, conn = timed_conn(make_peer, 8)
    peer.advance(RTT)
    assert data_of(sack_ack(peer, (1, 4)))[0] == (seq_of(0), MSS)
    peer.advance(0.001)
    sent = data_of(sack_ack(peer, ack_no=seq_of(5)))
    assert (seq_of(5), MSS) not in sent and (seq_of(6), MSS) not in sent, sent
    assert counter(peer.stack, "tcp_rack_losses") == 1
    assert all("l" not in f for _, _, f in runs(conn))
    # (7 may go again as RFC 6675's rescue retransmission: not a RACK mark)


def test_retransmission_acked_after_min_rtt_is_the_reference(make_peer):
    """The same, with the ACK a full RTT after the retransmission: it is for
    the retransmission, and 5-7 (sent 20 ms ago, before it) are lost."""
    peer, conn = timed_conn(make_peer, 8)
    peer.advance(RTT)
    sack_ack(peer, (1, 4))
    peer.advance(RTT)
    sent = data_of(sack_ack(peer, ack_no=seq_of(5)))
    assert (seq_of(5), MSS) in sent
    assert counter(peer.stack, "tcp_rack_losses") == 1 + 3


# ---- the reordering window: D-SACK growth, decay after 16 recoveries ---------------------

def recovery_episode(peer, conn, dsack=False):
    """2 new segments, the first lost: the second's SACK marks it once the
    reordering window (at most SRTT) has passed -> recovery and the resend;
    the ACK of both ends the episode (with a D-SACK of the resent segment if
    asked: the original had only been late)."""
    una = peer.tcb(conn)["snd_una"]
    conn.send(bytes(2 * MSS))
    assert len(data_of(peer.recv())) == 2
    peer.advance(RTT)
    ack(peer, una, options=[sack((una + MSS, una + 2 * MSS))])
    peer.advance(RTT + 2 * TICK)
    assert (una, MSS) in data_of(peer.recv())
    peer.advance(RTT)
    ack(peer, una + 2 * MSS, options=[sack((una, una + MSS))] if dsack else None)
    peer.recv()
    assert peer.tcb(conn)["snd_una"] == una + 2 * MSS


def test_dsack_widens_the_window_and_16_recoveries_without_one_narrow_it(make_peer):
    peer, conn = timed_conn(make_peer, 1)
    peer.advance(RTT)
    ack(peer, seq_of(1))
    recovery_episode(peer, conn, dsack=True)
    assert peer.tcb(conn)["reo_mult"] == 2
    recovery_episode(peer, conn, dsack=True)
    assert peer.tcb(conn)["reo_mult"] == 3              # once per recovery episode
    for _ in range(15):
        recovery_episode(peer, conn)
    assert peer.tcb(conn)["reo_mult"] == 3
    recovery_episode(peer, conn)                        # the 16th without a D-SACK
    assert peer.tcb(conn)["reo_mult"] == 1
    assert counter(peer.stack, "tcp_rto_fired") == 0


# ---- tail-loss probe timing -----------------------------------------------------------

def test_probe_goes_two_srtt_after_the_tail_whatever_the_srtt(make_peer):
    peer = make_peer(delayed_ack=0)
    conn = peer.established(sack=True, cc="newreno")
    conn.send(b"t" * 100)
    peer.recv()
    peer.advance(0.040)                                 # SRTT 40 ms: PTO 82 ms
    ack(peer, BASE)
    conn.send(bytes(4 * MSS))
    peer.recv()
    peer.advance(0.082 - TICK)
    peer.expect_nothing()
    peer.advance(2 * TICK)
    assert data_of(peer.recv()) == [(seq_of(3), MSS)]
    assert counter(peer.stack, "tcp_tlp_probes") == 1
    assert PTO < 0.082                                  # (not the 10 ms set-up's probe)


# ---- min_RTT over a window -------------------------------------------------------------

def rtt_sample(peer, conn, seconds):
    una = peer.tcb(conn)["snd_una"]
    conn.send(bytes(100))
    peer.recv()
    peer.advance(seconds)
    ack(peer, una + 100)


def test_min_rtt_is_the_lowest_of_the_last_300_s(make_peer):
    peer, conn = timed_conn(make_peer, 1)
    peer.advance(RTT)
    ack(peer, seq_of(1))
    assert peer.tcb(conn)["min_rtt_us"] == 10000
    rtt_sample(peer, conn, 0.030)
    assert peer.tcb(conn)["min_rtt_us"] == 10000        # still the lowest in the window
    peer.advance(299)
    rtt_sample(peer, conn, 0.030)
    assert peer.tcb(conn)["min_rtt_us"] == 10000
    peer.advance(2)                                     # the 10 ms sample is 301 s old
    rtt_sample(peer, conn, 0.030)
    assert peer.tcb(conn)["min_rtt_us"] == 30000        # the path got longer: min_RTT follows
    rtt_sample(peer, conn, 0.020)
    assert peer.tcb(conn)["min_rtt_us"] == 20000


# ---- D-SACK as evidence of reordering ----------------------------------------------------

def test_dsack_of_a_retransmission_counts_as_reordering_seen(make_peer):
    """Once 0 was resent, its late original arriving cannot show as
    reordering (0 is no longer a never-resent segment); the D-SACK does."""
    peer, conn = timed_conn(make_peer, 8)
    peer.advance(RTT)
    sack_ack(peer, (1, 4))                              # 0 resent
    ack(peer, seq_of(8), options=[sack((seq_of(0), seq_of(1)))])
    assert counter(peer.stack, "tcp_reordering_seen") == 1


def test_dsack_of_the_probe_is_not_reordering(make_peer):
    peer, conn = timed_conn(make_peer, 4)
    peer.advance(PTO)
    peer.recv()                                         # probe: 3 again
    ack(peer, seq_of(4), options=[sack((seq_of(3), seq_of(4)))])
    assert counter(peer.stack, "tcp_dsack_rcvd") == 1
    assert counter(peer.stack, "tcp_reordering_seen") == 0
