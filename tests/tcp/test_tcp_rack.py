"""RFC 8985 RACK-TLP (Stack(recovery="rack"), the default): tail-loss
probes, time-based loss marking with a reordering window, D-SACK feeding
that window (RFC 2883), lost retransmissions. Each test first takes one RTT
sample of 10 ms (SRTT = min_RTT = 10 ms, so
PTO 2 SRTT + 2 ms = 22 ms, the reordering window min_RTT / 4 = 2.5 ms, which
fires on the wheel's next 1 ms tick),
then scripts the loss."""
import pytest
from netchan.config import stack_config

from tcp_harness import ISS
from tcp_tools import MSS, ack, counter, data_of, sack

BASE = ISS + 101            # first sequence number after the timing segment
RTT = 0.01
PTO = 2 * RTT + 0.002
TICK = 0.001                # the timing wheel's slot: timers fire on its ticks


def seq_of(i):
    return BASE + i * MSS


def timed_conn(make_peer, n, **stack_options):
    """A SACK connection with SRTT = 10 ms and n full segments just sent."""
    stack_options.setdefault("delayed_ack", 0)
    peer = make_peer(**stack_options)
    conn = peer.established(sack=True, cc="newreno")
    conn.send(b"t" * 100)
    peer.recv()
    peer.advance(RTT)
    ack(peer, BASE)
    conn.send(bytes(n * MSS))
    assert len(data_of(peer.recv())) == min(n, 10)
    return peer, conn


def sack_ack(peer, *blocks, ack_no=None):
    """An ACK at ack_no (default: the first segment) SACKing segment index ranges [i, j)."""
    ack(peer, seq_of(0) if ack_no is None else ack_no,
        options=[sack(*[(seq_of(i), seq_of(j)) for i, j in blocks])] if blocks else None)
    return peer.recv()


# ---- tail-loss probe (RFC 8985 7) ---------------------------------------------------

def test_probe_resends_the_last_segment_two_srtt_after_the_tail(make_peer):
    peer, conn = timed_conn(make_peer, 4)
    assert peer.tcb(conn)["rexmt_kind"] == "pto"
    peer.advance(PTO - TICK)
    peer.expect_nothing()
    peer.advance(2 * TICK)                              # (the wheel fires on its ticks)
    assert data_of(peer.recv()) == [(seq_of(3), MSS)]
    assert counter(peer.stack, "tcp_tlp_probes") == 1
    assert peer.tcb(conn)["rexmt_kind"] == "rto"        # one probe, then the RTO


def test_probe_is_new_data_when_the_peer_window_allows(make_peer):
    peer, conn = timed_conn(make_peer, 12)              # 10 out (initial window), 2 waiting
    peer.advance(PTO)
    assert data_of(peer.recv()) == [(seq_of(10), MSS)]
    assert counter(peer.stack, "tcp_retransmits") == 0


def test_one_segment_in_flight_waits_for_a_delayed_ack_too(make_peer):
    peer, conn = timed_conn(make_peer, 1)
    peer.advance(2 * RTT + 0.2 - 0.001)
    peer.expect_nothing()
    peer.advance(0.001)
    assert data_of(peer.recv()) == [(seq_of(0), MSS)]


def test_probe_then_the_rto_if_nothing_answers(make_peer):
    peer, conn = timed_conn(make_peer, 4)
    peer.advance(PTO)
    peer.recv()
    peer.advance(1.0 - 0.001)                           # RTO (rto_min 1 s) from the probe
    peer.expect_nothing()
    peer.advance(0.001)
    assert data_of(peer.recv())[0] == (seq_of(0), MSS)
    assert counter(peer.stack, "tcp_rto_fired") == 1


def test_sacked_probe_marks_the_tail_lost_at_once(make_peer):
    """The probe's SACK comes an RTT after it; 0-2 went a PTO before the
    probe, longer ago than RACK.rtt + the reordering window: lost at once
    (RFC 8985 7.4's example), no RTO."""
    peer, conn = timed_conn(make_peer, 4)               # 0, 1, 2 lost; 3 lost too
    peer.advance(PTO)
    peer.recv()                                         # probe: segment 3 again
    peer.advance(RTT)
    segs = data_of(sack_ack(peer, (3, 4)))
    assert segs[0] == (seq_of(0), MSS)
    assert counter(peer.stack, "tcp_rack_losses") == 3
    assert conn.info()["in_recovery"] == "sack"
    assert counter(peer.stack, "tcp_rto_fired") == 0


def test_probe_sacked_sooner_than_min_rtt_is_the_original_arriving(make_peer):
    """RFC 8985 6.2 step 2: a SACK for a retransmitted segment less than
    min_RTT after the retransmission is for the original; the probe's send
    time is not RACK's reference then (it would mark 0-2 lost although
    nothing later than them is known to have arrived)."""
    peer, conn = timed_conn(make_peer, 4)
    peer.advance(PTO)
    peer.recv()                                         # probe: segment 3 again
    peer.advance(RTT / 2)
    assert sack_ack(peer, (3, 4)) == []
    assert counter(peer.stack, "tcp_rack_losses") == 0


def test_probe_that_repaired_a_loss_reduces_cwnd(make_peer):
    peer, conn = timed_conn(make_peer, 4)               # segment 3 lost
    peer.advance(PTO)
    peer.recv()
    cwnd = conn.cwnd
    ack(peer, seq_of(4))                                # the probe filled the tail
    assert counter(peer.stack, "tcp_tlp_recoveries") == 0   # maybe a D-SACK is coming
    conn.send(bytes(MSS))
    peer.recv()
    ack(peer, seq_of(5))                                # past the probe, no D-SACK: it was a loss
    assert counter(peer.stack, "tcp_tlp_recoveries") == 1
    assert conn.cwnd < cwnd


def test_dsack_of_the_probe_means_nothing_was_lost(make_peer):
    peer, conn = timed_conn(make_peer, 4)
    peer.advance(PTO)
    peer.recv()
    ack(peer, seq_of(4), options=[sack((seq_of(3), seq_of(4)))])   # D-SACK: below the ACK
    conn.send(bytes(MSS))
    peer.recv()
    ack(peer, seq_of(5))
    assert counter(peer.stack, "tcp_tlp_recoveries") == 0
    assert counter(peer.stack, "tcp_dsack_rcvd") == 1


def test_rfc6675_recovery_sends_no_probe(make_peer):
    peer, conn = timed_conn(make_peer, 4, recovery="rfc6675")
    peer.advance(1.0 - 0.001)
    peer.expect_nothing()
    peer.advance(0.001)
    assert data_of(peer.recv())[0] == (seq_of(0), MSS)      # the RTO
    assert counter(peer.stack, "tcp_tlp_probes") == 0


def test_no_probe_without_sack(make_peer):
    peer = make_peer(delayed_ack=0)
    conn = peer.established(sack=False)
    conn.send(b"t" * 100)
    peer.recv()
    peer.advance(RTT)
    ack(peer, BASE)
    conn.send(bytes(4 * MSS))
    peer.recv()
    assert peer.tcb(conn)["rexmt_kind"] == "rto"


# ---- time-based loss marking (RFC 8985 6) ----------------------------------------------

def test_one_sacked_segment_marks_the_hole_below_after_the_window(make_peer):
    """Below DupThresh: RFC 6675 would wait for the RTO."""
    peer, conn = timed_conn(make_peer, 3)
    assert sack_ack(peer, (1, 2)) == []
    assert peer.tcb(conn)["rexmt_kind"] == "reo"
    peer.advance(RTT / 4 - TICK)
    peer.expect_nothing()
    peer.advance(2 * TICK)
    assert data_of(peer.recv())[0] == (seq_of(0), MSS)
    assert counter(peer.stack, "tcp_rack_losses") == 1


def test_rfc6675_does_not_mark_one_sacked_segment(make_peer):
    peer, conn = timed_conn(make_peer, 3, recovery="rfc6675")
    sack_ack(peer, (1, 3))
    peer.advance(RTT)
    peer.expect_nothing()


def test_more_than_dupthresh_minus_one_sacked_marks_at_once(make_peer):
    peer, conn = timed_conn(make_peer, 6)
    assert data_of(sack_ack(peer, (1, 4)))[0] == (seq_of(0), MSS)
    assert conn.info()["in_recovery"] == "sack"


def test_hole_delivered_late_is_reordering_and_widens_nothing_yet(make_peer):
    peer, conn = timed_conn(make_peer, 4)
    sack_ack(peer, (1, 2))
    ack(peer, seq_of(2))                                # segment 0 came late, not lost
    assert counter(peer.stack, "tcp_reordering_seen") == 1
    assert peer.tcb(conn)["reo_mult"] == 1


def test_after_reordering_three_sacked_segments_wait_for_the_window(make_peer):
    peer, conn = timed_conn(make_peer, 8)
    peer.advance(RTT)                                   # (an RTT sample of 0 would make the window 0)
    sack_ack(peer, (1, 2))
    ack(peer, seq_of(2))                                # reordering seen
    assert sack_ack(peer, (3, 6), ack_no=seq_of(2)) == []   # 3 SACKed: no longer enough
    peer.advance(RTT / 4 + TICK)
    assert data_of(peer.recv())[0] == (seq_of(2), MSS)


def test_dsack_raises_the_reordering_window_once_per_recovery(make_peer):
    peer, conn = timed_conn(make_peer, 8)
    sack_ack(peer, (1, 4))                              # recovery: 0 resent
    # the original 0 arrives after all: the peer reports the resent copy as a duplicate
    ack(peer, seq_of(8), options=[sack((seq_of(0), seq_of(1)))])
    ack(peer, seq_of(8), options=[sack((seq_of(0), seq_of(1)))])
    assert counter(peer.stack, "tcp_dsack_rcvd") == 2
    assert peer.tcb(conn)["reo_mult"] == 2
    conn.send(bytes(3 * MSS))                           # 8, 9, 10
    peer.recv()
    sack_ack(peer, (9, 10), ack_no=seq_of(8))
    peer.advance(2 * RTT / 4 - TICK)                    # 2 x min_RTT / 4
    peer.expect_nothing()
    peer.advance(2 * TICK)
    assert data_of(peer.recv())[0] == (seq_of(8), MSS)


def test_reordering_window_is_at_most_srtt(make_peer):
    peer, conn = timed_conn(make_peer, 4)
    t = peer.tcb(conn)
    assert t["min_rtt_us"] == 10000


# ---- lost retransmissions ---------------------------------------------------------

def test_lost_retransmission_is_resent_when_later_data_is_sacked(make_peer):
    peer, conn = timed_conn(make_peer, 8)
    assert data_of(sack_ack(peer, (1, 4)))[0] == (seq_of(0), MSS)   # 0 resent
    conn.send(bytes(4 * MSS))
    sent = data_of(sack_ack(peer, (1, 5)))
    sent += data_of(sack_ack(peer, (1, 6)))
    new = [s for s, _ in sent if s >= seq_of(8)]
    assert new, sent                                   # data sent after the retransmission
    i = (new[0] - BASE) // MSS
    segs = data_of(sack_ack(peer, (1, 6), (i, i + 1)))  # ... delivered, 0 still missing
    assert (seq_of(0), MSS) in segs
    assert counter(peer.stack, "tcp_rack_lost_retransmits") == 1
    assert counter(peer.stack, "tcp_rto_fired") == 0


# ---- configuration ----------------------------------------------------------------

def test_recovery_option_is_checked():
    with pytest.raises(ValueError, match="recovery='fast': choose one of rfc6675, rack"):
        stack_config(recovery="fast")
    assert stack_config().recovery == "rack"
    assert stack_config(recovery="rfc6675").recovery_id == 0
