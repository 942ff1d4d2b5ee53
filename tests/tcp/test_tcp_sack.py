"""RFC 2018 / RFC 2883 / RFC 6675: selective acknowledgements. The receiver
side (which blocks an ACK carries, in which order, D-SACK) and the sender
side (the scoreboard, loss detection, pipe, NextSeg, the end of recovery)."""
from tcp_harness import IRS, ISS
from tcp_tools import MSS, ack, counter, data_of, sack, sack_blocks, send_segments, ts


def seq_of(i):
    return ISS + 1 + i * MSS


def rseq(off):
    """The peer's sequence number at stream offset off."""
    return IRS + 1 + off


def deliver(peer, off, n=100, **kw):
    peer.send("PA", seq=rseq(off), ack=ISS + 1, data=b"d" * n, **kw)


# ---- receiver: the blocks our ACKs carry -----------------------------------------

def test_out_of_order_segment_is_acked_at_once_with_its_block(peer):
    peer.established(sack=True)
    deliver(peer, 1000)
    seg = peer.expect("A", ack=rseq(0))
    assert sack_blocks(seg) == [(rseq(1000), rseq(1100))]


def test_first_block_is_the_most_recent_arrival(peer):
    peer.established(sack=True)
    deliver(peer, 1000)
    peer.recv()
    deliver(peer, 3000)
    peer.recv()
    deliver(peer, 2000)
    seg = peer.expect("A", ack=rseq(0))
    assert sack_blocks(seg) == [(rseq(2000), rseq(2100)), (rseq(1000), rseq(1100)),
                                (rseq(3000), rseq(3100))]


def test_adjacent_arrivals_merge_into_one_block(peer):
    peer.established(sack=True)
    deliver(peer, 1000)
    peer.recv()
    deliver(peer, 1100)
    assert sack_blocks(peer.expect("A", ack=rseq(0))) == [(rseq(1000), rseq(1200))]


def test_four_blocks_fit_without_timestamps(peer):
    peer.established(sack=True)
    for off in (1000, 2000, 3000, 4000, 5000):
        deliver(peer, off)
    blocks = sack_blocks(peer.recv()[-1])
    assert len(blocks) == 4 and blocks[0] == (rseq(5000), rseq(5100))


def test_three_blocks_fit_beside_timestamps(peer):
    peer.established(sack=True, ts_recent=10)
    for off in (1000, 2000, 3000, 4000, 5000):
        deliver(peer, off, options=[ts(10)])
    last = peer.recv()[-1]
    blocks = sack_blocks(last)
    assert len(blocks) == 3 and blocks[0] == (rseq(5000), rseq(5100))
    assert "Timestamp" in dict(last.options)


def test_blocks_go_once_the_hole_is_filled(peer):
    peer.established(sack=True)
    deliver(peer, 100)
    peer.recv()
    deliver(peer, 0)
    seg = peer.expect("A", ack=rseq(200))
    assert sack_blocks(seg) == []


def test_dsack_reports_a_duplicate_of_in_order_data(peer):
    peer.established(sack=True, quickack=1)
    deliver(peer, 0)
    peer.expect("A", ack=rseq(100))
    deliver(peer, 0)                                # the same segment again
    seg = peer.expect("A", ack=rseq(100))
    assert sack_blocks(seg) == [(rseq(0), rseq(100))]      # below the ACK: a D-SACK


def test_dsack_for_a_duplicate_out_of_order_segment_comes_first(peer):
    peer.established(sack=True)
    deliver(peer, 1000)
    peer.recv()
    deliver(peer, 1000)
    seg = peer.expect("A", ack=rseq(0))
    assert sack_blocks(seg) == [(rseq(1000), rseq(1100)), (rseq(1000), rseq(1100))]


def test_dsack_is_reported_only_once(peer):
    peer.established(sack=True, quickack=4)
    deliver(peer, 0)
    peer.recv()
    deliver(peer, 0)
    peer.recv()
    deliver(peer, 100)
    assert sack_blocks(peer.expect("A", ack=rseq(200))) == []


def test_no_blocks_when_sack_was_not_negotiated(peer):
    peer.established(sack=False)
    deliver(peer, 1000)
    seg = peer.expect("A", ack=rseq(0))
    assert "SAck" not in dict(seg.options)


# ---- sender: the scoreboard and recovery (RFC 6675) ---------------------------------

def sack_conn(peer, n=10, queued=None, **kw):
    kw.setdefault("cc", "newreno")
    conn = peer.established(sack=True, **kw)
    send_segments(peer, conn, queued or n)
    return conn


def sack_ack(peer, *blocks, ack_no=seq_of(0), **kw):
    """A duplicate ACK with SACK blocks given as segment index ranges [i, j)."""
    ack(peer, ack_no, options=[sack(*[(seq_of(i), seq_of(j)) for i, j in blocks])], **kw)
    return peer.recv()


def test_two_sacked_segments_are_not_yet_a_loss(peer):
    conn = sack_conn(peer)
    assert sack_ack(peer, (1, 2)) == []
    assert sack_ack(peer, (1, 3)) == []
    assert conn.info()["in_recovery"] == "none" and conn.info()["sacked_ranges"] == 1


def test_more_than_two_segments_sacked_above_is_a_loss_on_one_ack(peer):
    """IsLost(SND.UNA): one ACK SACKing three segments starts recovery
    without waiting for three duplicate ACKs."""
    conn = sack_conn(peer)
    segs = sack_ack(peer, (1, 4))
    assert data_of(segs) == [(seq_of(0), MSS)]
    assert conn.info()["in_recovery"] == "sack"
    assert counter(peer.stack, "tcp_fast_retransmits") == 1


def test_three_dupacks_start_recovery_even_with_little_sacked(peer):
    """Three duplicate ACKs that each SACK new data (one segment each time,
    below the byte threshold) are enough (RFC 6675 5 step 2)."""
    conn = sack_conn(peer)
    sack_ack(peer, (1, 2))
    sack_ack(peer, (1, 2), (3, 4))
    segs = sack_ack(peer, (1, 2), (3, 4), (5, 6))
    assert data_of(segs)[0] == (seq_of(0), MSS)
    assert conn.info()["in_recovery"] == "sack"


def test_only_the_holes_are_retransmitted_never_sacked_data(make_peer):
    peer = make_peer(recovery="rfc6675")        # (no rescue retransmission, test_tcp_prr.py)
    sack_conn(peer)
    first = sack_ack(peer, (1, 3), (4, 8))          # holes: 0 and 3 (8, 9 not yet lost)
    assert data_of(first) == [(seq_of(0), MSS), (seq_of(3), MSS)]
    assert sack_ack(peer, (1, 3), (4, 9)) == []     # nothing else is a hole


def test_holes_go_before_new_data(peer):
    sack_conn(peer, queued=30)
    segs = sack_ack(peer, (1, 3), (4, 8))
    assert data_of(segs)[:2] == [(seq_of(0), MSS), (seq_of(3), MSS)]


def test_pipe_limits_what_recovery_sends(make_peer):
    peer = make_peer(recovery="rfc6675")        # (PRR spreads these sends: test_tcp_prr.py)
    conn = sack_conn(peer, queued=30)
    assert data_of(sack_ack(peer, (1, 4))) == [(seq_of(0), MSS)]
    assert conn.cwnd == conn.ssthresh == 5 * MSS
    # pipe: 0 (resent) + 4..9 in flight = 7 segments; each SACK takes one off
    assert sack_ack(peer, (1, 5)) == []
    assert sack_ack(peer, (1, 6)) == []
    assert data_of(sack_ack(peer, (1, 7))) == [(seq_of(10), MSS)]
    assert data_of(sack_ack(peer, (1, 8))) == [(seq_of(11), MSS)]


def test_partial_ack_stays_in_recovery_and_full_ack_ends_it(peer):
    conn = sack_conn(peer)
    sack_ack(peer, (1, 4), (5, 8))                  # holes 0 and 4
    sack_ack(peer, (5, 8), ack_no=seq_of(4))        # 0 arrived: partial
    assert conn.info()["in_recovery"] == "sack"
    ack(peer, seq_of(10))                           # RecoveryPoint reached
    assert conn.info()["in_recovery"] == "none"
    assert conn.info()["sacked_ranges"] == 0


def test_recovery_point_is_snd_max_at_entry(peer):
    conn = sack_conn(peer, queued=30)
    sack_ack(peer, (1, 4))
    assert peer.tcb(conn)["recover"] == seq_of(10)


def test_sack_option_is_ignored_when_not_negotiated(peer):
    conn = peer.established(cc="newreno", sack=False)
    send_segments(peer, conn, 10)
    assert sack_ack(peer, (1, 6)) == []
    assert conn.info()["sacked_ranges"] == 0 and conn.info()["in_recovery"] == "none"


def test_block_beyond_snd_max_is_ignored(peer):
    conn = sack_conn(peer)
    assert sack_ack(peer, (12, 16)) == []
    assert conn.info()["sacked_ranges"] == 0 and conn.info()["in_recovery"] == "none"


def test_block_below_snd_una_is_ignored(peer):
    conn = sack_conn(peer)
    ack(peer, seq_of(5))
    ack(peer, seq_of(5), options=[sack((seq_of(1), seq_of(4)))])   # a D-SACK, not new data
    assert conn.info()["sacked_ranges"] == 0 and conn.info()["in_recovery"] == "none"


def test_empty_or_reversed_block_is_ignored(peer):
    conn = sack_conn(peer)
    ack(peer, seq_of(0), options=[sack((seq_of(5), seq_of(2)))])
    assert conn.info()["sacked_ranges"] == 0


def test_rto_forgets_the_scoreboard_and_goes_back(peer):
    """RFC 2018 8 / RFC 6675 5.1: after a timeout SACK information is not
    trusted: the first segment goes out again, then go-back from SND.UNA."""
    conn = sack_conn(peer)
    sack_ack(peer, (2, 4))
    peer.advance(1)
    assert data_of(peer.recv()) == [(seq_of(0), MSS)]
    assert conn.info()["sacked_ranges"] == 0 and conn.cwnd == MSS


def test_cumulative_ack_trims_the_scoreboard(peer):
    conn = sack_conn(peer)
    sack_ack(peer, (2, 3), (5, 6))
    assert conn.info()["sacked_ranges"] == 2
    ack(peer, seq_of(4))
    assert conn.info()["sacked_ranges"] == 1


def test_sacked_segments_above_a_retransmitted_hole_do_not_resend_it(peer):
    sack_conn(peer)
    sack_ack(peer, (1, 4))                          # 0 resent on entering recovery
    later = sack_ack(peer, (1, 6)) + sack_ack(peer, (1, 8))
    assert (seq_of(0), MSS) not in data_of(later)


# ---- a sender that holds out-of-order data: its SACK blocks count against the MSS ----

def _ip_lengths_and_payloads(segs):
    return [(s.underlayer.len if s.underlayer is not None else None, len(bytes(s.payload)))
            for s in segs if bytes(s.payload)]


def test_data_segments_shrink_by_the_sack_blocks_they_carry(peer):
    """RFC 9293 3.7.1: the options of a segment count against its size. With
    three blocks beside the timestamp (40 option bytes) a full segment carries
    1500 - 20 - 60 = 1420 bytes, not the 1448 of the timestamp alone (a frame
    28 bytes over the MTU had overrun a link buffer by 2 bytes)."""
    conn = peer.established(sack=True, ts_recent=10)
    for off in (1000, 2000, 3000):
        deliver(peer, off, options=[ts(10)])
    peer.recv()
    segs = send_segments(peer, conn, 3, size=1448)
    sizes = _ip_lengths_and_payloads(segs)
    assert sizes and all(ip_len <= 1500 for ip_len, _ in sizes), sizes
    assert sizes[0] == (1500, 1420), sizes
    assert all(len(sack_blocks(s)) == 3 for s in segs if bytes(s.payload))


def test_without_timestamps_four_blocks_leave_1424_bytes(peer):
    conn = peer.established(sack=True)
    for off in (1000, 2000, 3000, 4000):
        deliver(peer, off)
    peer.recv()
    sizes = _ip_lengths_and_payloads(send_segments(peer, conn, 2, size=1460))
    assert sizes[0] == (1500, 1424), sizes


def test_once_the_hole_is_filled_segments_are_full_again(peer):
    conn = peer.established(sack=True, ts_recent=10)
    deliver(peer, 100, options=[ts(10)])
    peer.recv()
    deliver(peer, 0, options=[ts(10)])
    peer.recv()
    sizes = _ip_lengths_and_payloads(send_segments(peer, conn, 2, size=1448))
    assert sizes[0] == (1500, 1448), sizes
