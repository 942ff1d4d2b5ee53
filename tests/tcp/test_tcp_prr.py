"""RFC 6937 proportional rate reduction and RFC 6675's rescue
retransmission (NextSeg rule 4), both part of Stack(recovery="rack"), the
default; test_tcp_sack.py pins what recovery="rfc6675" does instead."""
from tcp_harness import ISS
from tcp_tools import MSS, ack, counter, data_of, sack, send_segments


def seq_of(i):
    return ISS + 1 + i * MSS


def sack_ack(peer, *blocks, ack_no=seq_of(0)):
    ack(peer, ack_no, options=[sack(*[(seq_of(i), seq_of(j)) for i, j in blocks])])
    return data_of(peer.recv())


def sack_conn(peer, queued):
    conn = peer.established(sack=True, cc="newreno")
    send_segments(peer, conn, queued)
    return conn


def test_prr_spreads_the_reduction_over_the_acks(peer):
    """10 out, ssthresh 5: while the pipe is above ssthresh each delivered
    segment allows ssthresh/RecoverFS = half a segment (so new data starts
    on the first ACK after the retransmission; RFC 6675 alone waits until
    the pipe is down to ssthresh, test_pipe_limits_what_recovery_sends);
    at ssthresh, one out for one in."""
    conn = sack_conn(peer, 30)
    assert sack_ack(peer, (1, 4)) == [(seq_of(0), MSS)]
    assert conn.ssthresh == 5 * MSS
    assert sack_ack(peer, (1, 5)) == [(seq_of(10), MSS)]      # 4 delivered: 2 may go
    assert sack_ack(peer, (1, 6)) == []                       # 5 delivered: 2.5
    assert sack_ack(peer, (1, 7)) == []                       # pipe = ssthresh
    assert sack_ack(peer, (1, 8)) == [(seq_of(11), MSS)]
    assert sack_ack(peer, (1, 9)) == [(seq_of(12), MSS)]
    assert counter(peer.stack, "tcp_prr_recoveries") == 1


def test_prr_sends_what_was_delivered_when_the_pipe_is_below_ssthresh(peer):
    """Many losses (pipe under ssthresh): back up towards ssthresh, at most
    one segment more than was delivered (PRR-SSRB)."""
    conn = sack_conn(peer, 30)
    sent = sack_ack(peer, (7, 10))                # 0-6 lost, 3 segments delivered
    assert sent[0] == (seq_of(0), MSS)
    assert len(sent) == 4                          # delivered 3 + 1
    assert conn.ssthresh == 5 * MSS


def test_recovery_ends_at_ssthresh_or_less(peer):
    conn = sack_conn(peer, 10)
    sack_ack(peer, (1, 4))
    ack(peer, seq_of(10))
    assert conn.info()["in_recovery"] == "none"
    assert conn.cwnd <= conn.ssthresh


def test_rescue_resends_the_highest_unsacked_segment_once(peer):
    """Nothing new to send and no hole known lost but SND.UNA's: the tail
    (8, 9) might be lost too, with too few SACKs after it to tell."""
    sack_conn(peer, 10)
    assert sack_ack(peer, (1, 8)) == [(seq_of(0), MSS), (seq_of(9), MSS)]
    assert counter(peer.stack, "tcp_rescue_retransmits") == 1
    assert sack_ack(peer, (1, 9)) == []            # once per recovery
    assert counter(peer.stack, "tcp_rescue_retransmits") == 1


def test_no_rescue_with_rfc6675(make_peer):
    peer = make_peer(recovery="rfc6675")
    sack_conn(peer, 10)
    assert sack_ack(peer, (1, 8)) == [(seq_of(0), MSS)]
    assert counter(peer.stack, "tcp_rescue_retransmits") == 0
