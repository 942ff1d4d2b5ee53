"""busy_poll_mode: a blocking call spins only while an answer to what the
stack sent is due ('answer', the default), or before every sleep ('always').
The decision is made once per idle period (from the last frame moved or the
last send an API call made, across calls) and counted (waits_spun /
waits_slept), so these tests check it without timing anything."""
import uuid

import pytest

import netchan


def _stack(**kw):
    return netchan.Stack(f"pair:bp{uuid.uuid4().hex[:8]}", ip="198.18.0.1/15",
                         export_stats=False, **kw)


def _idle_wait(u):
    with pytest.raises(TimeoutError):
        u.recvfrom(timeout=0.003)


def _waits(stack):
    s = stack.stats()
    return s["waits_spun"], s["waits_slept"]


def test_a_stack_that_sent_nothing_sleeps_at_once():
    with _stack() as stack:
        u = stack.udp(5000)
        _idle_wait(u)
        _idle_wait(u)                   # the same idle period: no second decision
        assert _waits(stack) == (0, 1)


def test_after_a_datagram_goes_out_the_next_wait_spins_and_the_one_after_sleeps():
    with _stack() as stack:
        u = stack.udp(5000)
        _idle_wait(u)
        assert _waits(stack)[0] == 0
        u.sendto(b"question", ("198.18.0.2", 5001))
        _idle_wait(u)
        assert _waits(stack) == (1, 1)
        _idle_wait(u)                   # nothing sent since: no spin again
        assert _waits(stack) == (1, 1)


def test_always_spins_before_every_sleep():
    with _stack(busy_poll_mode="always") as stack:
        u = stack.udp(5000)
        _idle_wait(u)
        assert _waits(stack) == (1, 0)
        u.sendto(b"question", ("198.18.0.2", 5001))
        _idle_wait(u)
        assert _waits(stack) == (2, 0)


def test_busy_poll_zero_never_spins_and_counts_nothing():
    with _stack(busy_poll=0) as stack:
        u = stack.udp(5000)
        u.sendto(b"question", ("198.18.0.2", 5001))
        _idle_wait(u)
        assert _waits(stack) == (0, 0)


def test_a_bad_mode_says_what_to_choose():
    with pytest.raises(ValueError, match="busy_poll_mode='sometimes'.*'answer', 'always'"):
        netchan.Stack("pair:bpbad", ip="198.18.0.1/15", busy_poll_mode="sometimes")


def _connected_pair(busy_poll):
    """A connection between two stacks of one pair (one group), handshake done."""
    name = f"bp{uuid.uuid4().hex[:8]}"
    a = netchan.Stack(f"pair:{name}", ip="198.18.0.1/15", export_stats=False,
                      busy_poll=busy_poll)
    b = netchan.Stack(f"pair:{name}", ip="198.18.0.2/15", export_stats=False,
                      busy_poll=busy_poll)
    listener = b.listen(7000)
    conn = a.connect(("198.18.0.2", 7000), timeout=5)
    peer = listener.accept(timeout=5)
    return a, b, conn, peer


def _idle_recv(conn):
    with pytest.raises(TimeoutError):
        conn.recv(100, timeout=0.003)


def test_within_the_answer_window_a_later_idle_period_spins_too():
    # busy_poll=0.5 s: the window is 10 s, far longer than the test
    a, b, conn, peer = _connected_pair(busy_poll=0.5)
    try:
        conn.sendall(b"request")
        _idle_recv(conn)
        spun, slept = _waits(a)
        conn.shutdown(1)            # a FIN is no question, but it starts a new idle period
        _idle_recv(conn)
        assert _waits(a) == (spun + 1, slept)
    finally:
        a.close()
        b.close()


def test_past_the_answer_window_a_new_idle_period_sleeps():
    # busy_poll=1 us: the window is 20 us, and each idle wait lasts 3 ms
    a, b, conn, peer = _connected_pair(busy_poll=1e-6)
    try:
        conn.sendall(b"request")
        _idle_recv(conn)
        spun, slept = _waits(a)
        conn.shutdown(1)
        _idle_recv(conn)
        assert _waits(a) == (spun, slept + 1)
    finally:
        a.close()
        b.close()
