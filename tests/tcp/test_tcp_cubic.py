"""RFC 9438 CUBIC: multiplicative decrease, the cubic window curve on the
virtual clock (concave up to W_max, convex beyond), fast convergence, the
Reno-friendly region, and choosing the algorithm per stack and per
connection. Long runs use tests/ackclock.py: the test plays a receiver that
ACKs one round trip at a time."""
import pytest

import netchan
from conftest import unique
from ackclock import AckClock
from tcp_harness import ISS
from tcp_tools import MSS, ack, send_segments  # noqa: F401

C = 0.4
BETA = 0.7


def cubic(peer, **kw):
    kw.setdefault("cc", "cubic")
    return peer.established(**kw)


def big_window(peer):
    """A CUBIC connection whose peer offers 8 MB (window scale 7)."""
    return cubic(peer, snd_wscale=7, rcv_wscale=7)


def grow_then_lose(peer, conn, wmax_segments, rtt):
    clock = AckClock(peer, conn, rtt, every=2)
    while conn.cwnd < wmax_segments * MSS:
        clock.round()
    w = conn.cwnd / MSS
    clock.round(lose_first=True)
    return clock, w


# ---- multiplicative decrease ---------------------------------------------------

def test_loss_sets_ssthresh_to_0_7_cwnd(peer):
    conn = cubic(peer)
    send_segments(peer, conn, 10)
    for _ in range(3):
        ack(peer, ISS + 1)
    assert conn.ssthresh == int(14600 * BETA)
    assert conn.cwnd == int(14600 * BETA) + 3 * MSS     # NewReno-style recovery on top


def test_rto_sets_ssthresh_to_0_7_cwnd_and_cwnd_to_one_segment(peer):
    conn = cubic(peer)
    send_segments(peer, conn, 10)
    peer.advance(1)
    assert conn.ssthresh == int(14600 * BETA) and conn.cwnd == MSS


def test_repeated_rto_does_not_reduce_ssthresh_again(peer):
    """RFC 5681 (4) applies when the segment 'has not yet been resent by the
    retransmission timer': the second timeout keeps ssthresh."""
    conn = cubic(peer)
    send_segments(peer, conn, 10)
    peer.advance(1)
    peer.advance(2)
    assert len(peer.recv()) == 2
    assert conn.ssthresh == int(14600 * BETA)


def test_rto_during_fast_recovery_does_not_take_ssthresh_from_the_inflated_cwnd(peer):
    conn = cubic(peer)
    send_segments(peer, conn, 30)
    for _ in range(12):
        ack(peer, ISS + 1)                          # recovery, cwnd inflated by 9 MSS
    peer.recv()
    peer.advance(1)
    assert peer.recv()[0].seq == ISS + 1
    assert conn.cwnd == MSS
    assert conn.ssthresh <= int(14600 * BETA)       # not 0.7 x the inflated window


# ---- the window curve ------------------------------------------------------------

def test_window_follows_the_cubic_curve_concave_then_convex(peer):
    conn = big_window(peer)
    rtt = 0.4
    clock, wmax = grow_then_lose(peer, conn, 40, rtt)
    assert conn.ssthresh / MSS == pytest.approx(BETA * wmax, abs=0.01)
    t0 = peer.clock.now_ns / 1e9
    k = ((wmax - BETA * wmax) / C) ** (1 / 3)       # about 3.1 s
    rounds = [clock.round() for _ in range(int(2 * k / rtt) + 1)]
    times = [t - t0 for t, _ in clock.history[-len(rounds):]]
    for t, w in zip(times, rounds):
        # W(t) = C (t - K)^3 + W_max; the target is W(t + RTT), reached within a round trip
        model = C * (t - k) ** 3 + wmax
        assert abs(w - model) <= 0.12 * wmax, (t, w, model)
    steps = [b - a for a, b in zip(rounds, rounds[1:])]
    before = [s for t, s in zip(times, steps) if t < k - rtt]
    after = [s for t, s in zip(times, steps) if t > k + rtt]
    assert before == sorted(before, reverse=True)   # concave: growth slows towards W_max
    assert after == sorted(after)                   # convex: it speeds up beyond
    plateau = min(range(len(steps)), key=lambda i: steps[i])
    assert abs(times[plateau] - k) <= 2 * rtt
    assert rounds[plateau] == pytest.approx(wmax, rel=0.05)


def test_fast_convergence_lowers_w_max_after_an_early_loss(peer):
    conn = big_window(peer)
    rtt = 0.4
    clock, w1 = grow_then_lose(peer, conn, 40, rtt)
    clock.round()
    w2 = conn.cwnd / MSS
    assert w2 < w1                                  # the next loss comes before W_max
    clock.round(lose_first=True)
    assert conn.ssthresh / MSS == pytest.approx(BETA * w2, abs=0.01)
    rounds = [clock.round() for _ in range(10)]
    steps = [b - a for a, b in zip(rounds, rounds[1:])]
    plateau = rounds[min(range(len(steps)), key=lambda i: steps[i])]
    # the new W_max is w2 (1 + beta) / 2, not w2
    assert plateau == pytest.approx(w2 * (1 + BETA) / 2, rel=0.06)
    assert plateau < 0.92 * w2


def test_reno_friendly_region_on_a_short_rtt(peer):
    """With a short RTT the cubic curve barely moves in a few round trips;
    the Reno-friendly estimate (alpha = 3 (1 - beta) / (1 + beta) segments
    per RTT) drives the window instead."""
    conn = big_window(peer)
    rtt = 0.002
    clock, wmax = grow_then_lose(peer, conn, 40, rtt)
    start = conn.cwnd / MSS
    n = 20
    for _ in range(n):
        clock.round()
    alpha = 3 * (1 - BETA) / (1 + BETA)
    cubic_only = C * ((n + 2) * rtt - ((wmax * (1 - BETA)) / C) ** (1 / 3)) ** 3 + wmax
    assert cubic_only - start < 1                   # the curve alone: under one segment
    assert (conn.cwnd / MSS - start) == pytest.approx(alpha * n, rel=0.3)


# ---- selection -------------------------------------------------------------------------

def test_stack_default_is_cubic(peer):
    assert peer.established().cc == "cubic"


def test_stack_default_can_be_newreno(make_peer):
    peer = make_peer(cc="newreno")
    conn = peer.established()
    assert conn.cc == "newreno" and conn.info()["cc"] == "newreno"


def test_stack_rejects_an_unknown_algorithm(vclock):
    with pytest.raises(ValueError, match="cubic, newreno|newreno, cubic"):
        netchan.Stack(f"pair:{unique('cc')}", clock=vclock, cc="vegas")


def test_per_connection_choice_changes_the_response_to_loss(peer):
    conn = peer.established()
    conn.cc = "newreno"
    assert conn.cc == "newreno"
    send_segments(peer, conn, 10)
    for _ in range(3):
        ack(peer, ISS + 1)
    assert conn.ssthresh == 14600 // 2              # halved, not 0.7


def test_per_connection_choice_rejects_unknown_names(peer):
    conn = peer.established()
    with pytest.raises(ValueError, match="choose one of"):
        conn.cc = "bbr"
    assert conn.cc == "cubic"


def test_window_and_rtt_estimates_are_readable(make_peer):
    peer = make_peer(rto_min=0.01)
    conn = peer.established()
    send_segments(peer, conn, 2)
    peer.advance(0.05)
    ack(peer, ISS + 1 + 2 * MSS)
    info = conn.info()
    assert conn.cwnd == info["cwnd"] == 14600 + 2 * MSS
    assert conn.ssthresh == info["ssthresh"] == 0x7FFFFFFF
    assert conn.srtt == info["srtt"] == pytest.approx(0.05)
    assert conn.rttvar == info["rttvar"] == pytest.approx(0.025)
    assert conn.rto == info["rto"] == pytest.approx(0.15)
