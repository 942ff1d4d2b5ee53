"""The timing wheel's next deadline (pyx/tcp/wheel.pxi): the earliest armed
timer of every connection, whether it is a few slots, a few 64-slot words,
a whole rotation (4.096 s) or more away, and wherever the wheel's current
tick stands, including just before its slots wrap around. The stack sleeps
until this deadline, so one it misses is a timer that fires late."""
import pytest

from netchan._testing import debug_connection
from tcp_harness import IRS, ISS, MASK, PEER_IP, PEER_PORT

S = 1_000_000_000
ROTATION = 4.096                    # WHEEL_SLOTS ticks of 1 ms


def keepalive_conns(peer, idles):
    """One established connection per idle time, its keepalive the only
    timer it has armed (due `idle` seconds from now)."""
    conns = []
    for i, idle in enumerate(idles):
        conn = debug_connection(peer.stack, "ESTABLISHED", 20000 + i, (PEER_IP, PEER_PORT),
                                iss=ISS & MASK, irs=IRS & MASK, snd_wnd=65535)
        peer.held.append(conn)
        conn.set_keepalive(idle, 1.0, 3)
        conns.append(conn)
    return conns


def seconds(peer):
    return peer.stack.now / S


@pytest.mark.parametrize("start", [0.0, 1.5, ROTATION - 0.010, ROTATION - 0.0005])
def test_next_deadline_is_the_earliest_timer_at_any_distance(peer, start):
    # `start` moves the wheel's current tick: at ROTATION - 10 ms the nearer
    # timers sit in the last slots and the rest wrap around to the first
    peer.advance(start)
    idles = [9.0, 0.064, 2.5, 0.0635, 0.020, 4.2, 0.130, 0.003]
    conns = keepalive_conns(peer, idles)
    t0 = seconds(peer)
    left = sorted(zip(idles, conns), key=lambda p: p[0])
    while left:
        idle, conn = left.pop(0)
        assert peer.stack.next_deadline == pytest.approx(t0 + idle, abs=1e-9)
        conn.abort()                                # its timers go, the next one is due
        peer.port.recv()                            # (the RST)
    assert peer.stack.next_deadline is None


def test_only_timers_beyond_a_rotation(peer):
    # no slot ahead holds a timer due within its turn: the minimum of all
    conns = keepalive_conns(peer, [30.0, 7.5, 12.0])
    t0 = seconds(peer)
    assert peer.stack.next_deadline == pytest.approx(t0 + 7.5, abs=1e-9)
    peer.advance(5.0)                               # passes a rotation: nothing fires
    peer.expect_nothing()
    assert peer.stack.next_deadline == pytest.approx(t0 + 7.5, abs=1e-9)
    peer.advance(2.5)
    peer.expect("A", seq=ISS)                       # the 7.5 s connection's first probe
    # its next probe (1 s interval) is now the earliest
    assert peer.stack.next_deadline == pytest.approx(t0 + 8.5, abs=1e-9)
    assert [c.state for c in conns] == ["ESTABLISHED"] * 3


def test_a_slot_emptied_and_filled_again(peer):
    # two connections share a slot; taking one off must leave the slot
    # marked, taking both off must clear it, filling it again must mark it
    a, b = keepalive_conns(peer, [0.5, 0.5])
    t0 = seconds(peer)
    a.abort()
    assert peer.stack.next_deadline == pytest.approx(t0 + 0.5, abs=1e-9)
    b.abort()
    assert peer.stack.next_deadline is None
    (c,) = keepalive_conns(peer, [0.5])
    assert peer.stack.next_deadline == pytest.approx(t0 + 0.5, abs=1e-9)
    peer.port.recv()
    peer.advance(0.5)
    peer.expect("A", seq=ISS)
    assert c.state == "ESTABLISHED"


@pytest.mark.parametrize("words_ahead", [1, 2, 40])
@pytest.mark.parametrize("offset", [0, 1, 63])
def test_a_timer_at_each_place_in_a_word_of_slots(peer, words_ahead, offset):
    # the scan skips empty 64-slot words whole: a timer in the first, second
    # or last slot of a later word must still be the one it finds, and not
    # a later one (here 130 slots on) that a slot skipped too far would give
    tick = peer.stack.now // 1_000_000                # 1 ms ticks
    target = (tick // 64 + words_ahead) * 64 + offset
    idle_ns = target * 1_000_000 + 500_000 - peer.stack.now   # mid-tick: no rounding edge
    conn, _later = keepalive_conns(peer, [idle_ns / S, idle_ns / S + 0.130])
    assert peer.stack.next_deadline * 1000 // 1 == target
    peer.advance(idle_ns / S)
    peer.expect("A", seq=ISS)
    assert conn.state == "ESTABLISHED"


def test_next_deadline_cost_with_one_timer_seconds_away(peer, benchmark):
    # pytest-benchmark's figure (no timing is judged here): an idle stack
    # asks this on every poll; with one timer 3,000 slots ahead it visits
    # 47 words of the bitmap, not 3,000 slots (1.79 us a call before, 0.21 after)
    keepalive_conns(peer, [3.0])
    t0 = seconds(peer)
    assert benchmark(lambda: peer.stack.next_deadline) == pytest.approx(t0 + 3.0, abs=1e-9)
