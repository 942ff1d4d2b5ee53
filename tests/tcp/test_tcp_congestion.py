"""RFC 5681 / RFC 6928 / RFC 3042 / RFC 6582: NewReno congestion control
without SACK. Initial window, slow start with byte counting, congestion
avoidance, fast retransmit and fast recovery (window inflation, partial and
full ACKs, `recover`), limited transmit, and the window after an RTO."""
import pytest

from netchan._testing import debug_tcb_set

from tcp_harness import ISS, payload
from tcp_tools import MSS, ack, counter, data_of, send_segments  # noqa: F401


def seq_of(i):
    """First sequence number of the i-th full segment (0-based)."""
    return ISS + 1 + i * MSS


def newreno(peer, **kw):
    kw.setdefault("cc", "newreno")
    return peer.established(**kw)


def dupacks(peer, n, ack_no=seq_of(0), **kw):
    """n duplicate ACKs; returns the segments sent in answer to each."""
    out = []
    for _ in range(n):
        ack(peer, ack_no, **kw)
        out.append(peer.recv())
    return out


def in_recovery(conn):
    return conn.info()["in_recovery"]


# ---- initial window (RFC 6928) -----------------------------------------------------

def test_initial_window_is_ten_segments_at_1460(peer):
    conn = newreno(peer)
    segs = send_segments(peer, conn, 20)
    assert data_of(segs) == [(seq_of(i), MSS) for i in range(10)]
    assert conn.cwnd == 14600


def test_initial_window_is_ten_segments_of_a_small_mss(peer):
    conn = newreno(peer, peer_mss=536)
    segs = send_segments(peer, conn, 20, size=536)
    assert [n for _, n in data_of(segs)] == [536] * 10
    assert conn.cwnd == 5360                        # min(10 MSS, max(2 MSS, 14600))


def test_initial_window_is_14600_bytes_for_a_large_mss(make_peer):
    peer = make_peer(mtu=4040)
    conn = newreno(peer, peer_mss=4000)
    segs = send_segments(peer, conn, 5, size=4000)
    assert conn.cwnd == 14600                       # below 10 * 4000 and above 2 * 4000
    assert sum(n for _, n in data_of(segs)) <= 14600
    assert data_of(segs)[:3] == [(ISS + 1 + i * 4000, 4000) for i in range(3)]


# ---- slow start ----------------------------------------------------------------------

def test_slow_start_grows_one_segment_per_segment_acked(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    ack(peer, seq_of(1))
    assert conn.cwnd == 14600 + MSS
    assert data_of(peer.recv()) == [(seq_of(10), MSS), (seq_of(11), MSS)]   # 1 acked + 1 more


def test_slow_start_byte_counting_caps_a_stretch_ack_at_two_segments(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    ack(peer, seq_of(4))                            # one ACK for 4 segments
    assert conn.cwnd == 14600 + 2 * MSS             # L = 2 SMSS (RFC 3465)
    assert len(data_of(peer.recv())) == 6           # 4 left the network, window grew by 2


def test_slow_start_doubles_per_round_trip(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 40)
    for i in range(1, 11):
        ack(peer, seq_of(i))
    assert conn.cwnd == 2 * 14600
    assert len(data_of(peer.recv())) == 20


# ---- fast retransmit and fast recovery (RFC 5681 3.2, RFC 6582) ---------------------

def test_three_dupacks_retransmit_exactly_the_first_unacked_segment(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    first, second, third = dupacks(peer, 3)
    assert first == [] and second == []             # nothing queued for limited transmit
    assert data_of(third) == [(seq_of(0), MSS)]     # one segment, not the whole window
    assert counter(peer.stack, "tcp_fast_retransmits") == 1
    assert in_recovery(conn) == "newreno"


def test_fast_retransmit_sets_ssthresh_to_half_the_flight_and_inflates(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    dupacks(peer, 3)
    assert conn.ssthresh == 10 * MSS // 2
    assert conn.cwnd == 10 * MSS // 2 + 3 * MSS


def test_ssthresh_is_at_least_two_segments(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 3)
    dupacks(peer, 3)
    assert conn.ssthresh == 2 * MSS                 # FlightSize / 2 would be 1.5 MSS


def test_two_dupacks_do_not_retransmit(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    assert dupacks(peer, 2) == [[], []]
    assert in_recovery(conn) == "none" and conn.cwnd == 14600


def test_each_further_dupack_inflates_cwnd_by_one_segment(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    dupacks(peer, 3)
    before = conn.cwnd
    dupacks(peer, 2)
    assert conn.cwnd == before + 2 * MSS


def test_inflation_sends_new_data_once_cwnd_exceeds_the_flight(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    lt1, lt2, frx = dupacks(peer, 3)
    assert data_of(lt1) == [(seq_of(10), MSS)] and data_of(lt2) == [(seq_of(11), MSS)]
    assert data_of(frx) == [(seq_of(0), MSS)]
    # flight 12 segments, cwnd = 6 + 3 segments: 4 more dupacks make room for one
    assert dupacks(peer, 3) == [[], [], []]
    assert data_of(dupacks(peer, 1)[0]) == [(seq_of(12), MSS)]


def test_ack_with_a_window_change_is_not_a_dupack(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    for w in (60000, 61000, 62000):
        ack(peer, seq_of(0), win=w)
    assert peer.recv() == [] and in_recovery(conn) == "none"


def test_ack_carrying_data_is_not_a_dupack(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    for i in range(3):
        peer.send("PA", seq=5001 + 10 * i, ack=seq_of(0), data=b"d" * 10)
    assert all(not payload(s) for s in peer.recv())         # only ACKs of the data
    assert in_recovery(conn) == "none"


def test_partial_ack_retransmits_the_next_hole_at_once(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    dupacks(peer, 3)                                # segment 0 resent
    ack(peer, seq_of(2))                            # partial: 0 and 1 arrived, 2 lost too
    assert data_of(peer.recv()) == [(seq_of(2), MSS)]
    assert in_recovery(conn) == "newreno"
    assert counter(peer.stack, "tcp_fast_retransmits") == 1   # one recovery episode


def test_partial_ack_deflates_by_the_amount_acked_plus_one_segment(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    dupacks(peer, 3)
    before = conn.cwnd
    ack(peer, seq_of(2))                            # 2 segments acked
    assert conn.cwnd == before - 2 * MSS + MSS      # RFC 6582 3.2 step 5


def test_full_ack_ends_recovery_with_cwnd_ssthresh(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    dupacks(peer, 3)                                # limited transmit sent 10, 11
    ack(peer, seq_of(12))                           # everything up to `recover`
    assert in_recovery(conn) == "none"
    # min(ssthresh, max(FlightSize, SMSS) + SMSS); FlightSize is 0 after the ACK
    assert conn.ssthresh == 6 * MSS
    assert conn.cwnd == 2 * MSS


def test_full_ack_with_flight_left_takes_ssthresh(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    dupacks(peer, 3)
    dupacks(peer, 8)                                # inflation sends segments 12..15
    ack(peer, seq_of(12))
    assert in_recovery(conn) == "none"
    assert conn.cwnd == conn.ssthresh == 6 * MSS    # FlightSize + SMSS > ssthresh


def test_no_second_fast_retransmit_for_the_same_window(peer):
    """RFC 6582 4.1: after an RTO, dupacks for data sent before it
    (SND.UNA not above `recover`) do not start fast retransmit."""
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    peer.advance(1)
    assert data_of(peer.recv()) == [(seq_of(0), MSS)]
    ack(peer, seq_of(1))
    assert data_of(peer.recv()) == [(seq_of(1), MSS), (seq_of(2), MSS)]    # go-back-N
    resent = [data_of(segs) for segs in dupacks(peer, 3, ack_no=seq_of(1))]
    assert (seq_of(1), MSS) not in sum(resent, [])
    assert counter(peer.stack, "tcp_fast_retransmits") == 0


def test_fast_retransmit_again_once_above_recover(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    dupacks(peer, 3)
    ack(peer, seq_of(12))                           # recovery over (recover = 12)
    peer.recv()
    dupacks(peer, 3, ack_no=seq_of(12))             # a new loss in the next window
    assert counter(peer.stack, "tcp_fast_retransmits") == 2


def test_recover_follows_snd_una_so_it_never_falls_2_to_the_31_behind(peer):
    """A recovery that ended 2^31 - 2 segments' worth of bytes ago: once the
    flow has sent a little more, the old mark would read as ahead of SND.UNA
    (sequence comparison modulo 2^32) and bar fast retransmit for good,
    unless every new ACK pulls it along."""
    conn = newreno(peer)
    debug_tcb_set(conn, recover=ISS + 1 - (2**31 - 2 * MSS))
    send_segments(peer, conn, 20)
    ack(peer, seq_of(1))                            # still within 2^31 of the mark
    ack(peer, seq_of(4))                            # 2^31 + 2 MSS past where it was
    peer.recv()
    assert peer.tcb(conn)["recover"] == seq_of(4) & 0xffffffff
    dupacks(peer, 3, ack_no=seq_of(4))
    assert counter(peer.stack, "tcp_fast_retransmits") == 1
    assert in_recovery(conn) == "newreno"


# ---- limited transmit (RFC 3042) --------------------------------------------------

def test_limited_transmit_one_new_segment_on_each_of_two_dupacks(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 20)
    lt1, lt2 = dupacks(peer, 2)
    assert data_of(lt1) == [(seq_of(10), MSS)]
    assert data_of(lt2) == [(seq_of(11), MSS)]
    assert conn.cwnd == 14600                       # cwnd itself does not grow


def test_limited_transmit_respects_the_receive_window(peer):
    conn = newreno(peer, snd_wnd=10 * MSS)
    send_segments(peer, conn, 20)
    assert dupacks(peer, 2, win=10 * MSS) == [[], []]     # the peer's window is full


def test_limited_transmit_sends_no_old_data_after_an_rto(peer):
    """RFC 3042 allows previously unsent data only: while an RTO's go-back
    is still resending (SND.NXT < SND.MAX), dupacks release nothing."""
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    peer.advance(1)
    peer.recv()
    ack(peer, seq_of(1))
    assert data_of(peer.recv()) == [(seq_of(1), MSS), (seq_of(2), MSS)]
    assert dupacks(peer, 2, ack_no=seq_of(1)) == [[], []]


# ---- congestion avoidance ------------------------------------------------------------

def test_congestion_avoidance_adds_about_one_segment_per_round_trip(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 200)
    dupacks(peer, 3)
    ack(peer, seq_of(12))                           # cwnd = 2 MSS < ssthresh = 6 MSS
    peer.recv()
    una = 12
    while conn.cwnd < conn.ssthresh:                # slow start back to ssthresh
        una += 1
        ack(peer, seq_of(una))
        peer.recv()
    start = conn.cwnd
    acked = 0
    while acked < start:                            # one window's worth of ACKs
        una += 1
        ack(peer, seq_of(una))
        peer.recv()
        acked += MSS
    assert start + MSS * 0.9 <= conn.cwnd <= start + MSS * 1.1


def test_congestion_avoidance_per_ack_increment(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 30)
    dupacks(peer, 3)
    dupacks(peer, 8)
    ack(peer, seq_of(12))                           # cwnd = ssthresh: avoidance from here
    peer.recv()
    before = conn.cwnd
    ack(peer, seq_of(13))
    assert conn.cwnd == before + MSS * MSS // before


# ---- retransmission timeout ------------------------------------------------------------

def test_rto_collapses_cwnd_to_one_segment(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    peer.advance(1)
    assert data_of(peer.recv()) == [(seq_of(0), MSS)]
    assert conn.cwnd == MSS
    assert conn.ssthresh == 5 * MSS


def test_rto_goes_back_to_snd_una_and_slow_starts(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    peer.advance(1)
    peer.recv()
    ack(peer, seq_of(1))                            # cwnd 2 MSS: the next two, resent
    assert data_of(peer.recv()) == [(seq_of(1), MSS), (seq_of(2), MSS)]
    ack(peer, seq_of(3))                            # 2 more acked: cwnd 4 MSS
    assert data_of(peer.recv()) == [(seq_of(i), MSS) for i in (3, 4, 5, 6)]
    assert counter(peer.stack, "tcp_retransmits") == 7


def test_rto_during_recovery_leaves_recovery(peer):
    conn = newreno(peer)
    send_segments(peer, conn, 10)
    dupacks(peer, 3)
    peer.advance(1)
    assert data_of(peer.recv()) == [(seq_of(0), MSS)]
    assert in_recovery(conn) == "none" and conn.cwnd == MSS
