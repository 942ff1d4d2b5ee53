"""RFC 9406 HyStart++ (Stack(hystart=True), the default, with CUBIC): the
first slow start watches each round trip's lowest RTT (timestamps give a
sample per ACK); a rise of max(4 ms, min(RTT / 8, 16 ms)) over the last
round starts conservative slow start (a quarter of the growth), a drop back
below its baseline ends it, five rounds of it end slow start."""
from tcp_harness import IRS, options, payload
from tcp_tools import counter, ts

INITIAL_SSTHRESH = 0x7FFFFFFF


def data(segs):
    return [s for s in segs if payload(s)]


def start(make_peer, cc="cubic", **stack_options):
    peer = make_peer(delayed_ack=0, **stack_options)
    conn = peer.established(sack=True, ts_recent=100, cc=cc, snd_wnd=65535 << 4,
                            snd_wscale=4, rcv_wscale=4)
    conn.send(bytes(1 << 20))
    return peer, conn, data(peer.recv())


def round_trip(peer, segs, rtt):
    """The peer gets every segment of the round `rtt` after it left and
    ACKs each, echoing its TSval; returns what the stack sent meanwhile."""
    peer.advance(rtt)
    out = []
    for s in segs:
        peer.send("A", seq=IRS + 1, ack=s.seq + len(payload(s)),
                  options=[ts(100, options(s)["Timestamp"][0])], win=65535)
        out += data(peer.recv())
    return out


def test_rtt_rise_starts_conservative_slow_start(make_peer):
    """(HyStart++'s rounds start when the ACK of the previous round's last
    segment comes, so they straddle the flights the peer ACKs here.)"""
    peer, conn, segs = start(make_peer)
    for rtt in (0.010, 0.010, 0.010):
        segs = round_trip(peer, segs, rtt)
    assert counter(peer.stack, "tcp_hystart_css") == 0
    assert len(segs) == 80                          # doubling
    segs = round_trip(peer, segs, 0.020)            # +10 ms >= max(4, 10 / 8) ms
    n = len(segs)
    segs = round_trip(peer, segs, 0.020)
    assert counter(peer.stack, "tcp_hystart_css") == 1
    assert len(segs) < 1.5 * n                      # a quarter of the growth
    assert conn.ssthresh == INITIAL_SSTHRESH


def test_five_rounds_of_css_end_slow_start(make_peer):
    peer, conn, segs = start(make_peer)
    for rtt in (0.010, 0.010, 0.020, 0.020):
        segs = round_trip(peer, segs, rtt)
    assert counter(peer.stack, "tcp_hystart_exits") == 0
    for _ in range(5):
        segs = round_trip(peer, segs, 0.020)
    assert counter(peer.stack, "tcp_hystart_exits") == 1
    assert conn.ssthresh < INITIAL_SSTHRESH and conn.ssthresh <= conn.cwnd


def test_rtt_back_under_the_baseline_resumes_slow_start(make_peer):
    peer, conn, segs = start(make_peer)
    for rtt in (0.010, 0.010, 0.020, 0.020):
        segs = round_trip(peer, segs, rtt)
    assert counter(peer.stack, "tcp_hystart_css") == 1
    segs = round_trip(peer, segs, 0.010)
    segs = round_trip(peer, segs, 0.010)
    assert counter(peer.stack, "tcp_hystart_css_spurious") == 1
    assert conn.ssthresh == INITIAL_SSTHRESH


def test_small_rise_is_not_a_signal(make_peer):
    peer, conn, segs = start(make_peer)
    for rtt in (0.010, 0.010, 0.013, 0.013):         # +3 ms < 4 ms
        segs = round_trip(peer, segs, rtt)
    assert counter(peer.stack, "tcp_hystart_css") == 0


def test_off_with_hystart_false_or_newreno(make_peer):
    for kw in (dict(hystart=False), dict(cc="newreno")):
        peer, conn, segs = start(make_peer, **kw)
        for rtt in (0.010, 0.010, 0.020, 0.020):
            segs = round_trip(peer, segs, rtt)
        assert counter(peer.stack, "tcp_hystart_css") == 0
