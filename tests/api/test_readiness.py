"""Readiness: default timeouts (settimeout/setblocking), Stack.wait,
Stack.readiness, NetchanSelector, and the wake-up fd an event loop sleeps
on (Stack.fileno, arm_wakeup/clear_wakeup, next_deadline). Deterministic
parts run on a pair with the virtual clock; the fd parts on shm with the
real clock (two stacks of one link in this process)."""
import os
import select
import selectors
import socket
import time

import pytest

import netchan
from netchan import READABLE, WRITABLE, NetchanSelector
from conftest import CLIENT_IP, SERVER_IP, unique


def connected(pair, port=80):
    a, b = pair
    listener = a.listen(port)
    client = b.connect((SERVER_IP, port), timeout=5)
    server = listener.accept(timeout=5)
    return listener, client, server


# ---- default timeouts ---------------------------------------------------------------

def test_timeouts_are_socket_shaped(pair):
    listener, client, server = connected(pair)
    udp = pair[0].udp()
    for obj in (listener, client, udp):
        assert obj.gettimeout() is None and obj.getblocking()
        obj.settimeout(2.5)
        assert obj.gettimeout() == 2.5
        obj.setblocking(False)
        assert obj.gettimeout() == 0.0 and not obj.getblocking()
        obj.setblocking(True)
        assert obj.gettimeout() is None
        with pytest.raises(ValueError):
            obj.settimeout(-1)


def test_non_blocking_default_applies_to_calls_without_timeout(pair):
    listener, client, server = connected(pair)
    udp = pair[0].udp()
    server.setblocking(False)
    listener.setblocking(False)
    udp.setblocking(False)
    with pytest.raises(BlockingIOError):
        server.recv()
    with pytest.raises(BlockingIOError):
        listener.accept()
    with pytest.raises(BlockingIOError):
        udp.recvfrom()
    # an explicit timeout still wins over the default
    client.sendall(b"hi")
    assert server.recv(10, timeout=5) == b"hi"


def test_timeout_default_raises_timeout_error(pair, vclock):
    listener, client, server = connected(pair)
    server.settimeout(0.5)
    start = vclock.now_ns
    with pytest.raises(TimeoutError):
        server.recv()
    assert vclock.now_ns - start >= 500_000_000


# ---- Stack.wait and readiness ------------------------------------------------------------

def test_wait_reports_listener_connection_and_udp(pair):
    a, b = pair
    listener = a.listen(80)
    udp = a.udp(("", 5353))
    assert a.wait([listener, udp], timeout=0) == []
    client = b.connect((SERVER_IP, 80), timeout=0)
    assert b.readiness(client) == 0                   # handshake under way
    assert a.wait([listener], timeout=5) == [(listener, READABLE)]
    server = listener.accept(timeout=0)
    assert b.wait([(client, WRITABLE)], timeout=5) == [(client, WRITABLE)]
    assert a.readiness(server) == WRITABLE
    client.sendall(b"x" * 100)
    assert a.wait([server, (listener, READABLE)], timeout=5) == [(server, READABLE)]
    assert a.readiness(server) == READABLE | WRITABLE
    assert server.recv(1000) == b"x" * 100
    b.udp().sendto(b"dgram", (SERVER_IP, 5353))
    assert a.wait([udp], timeout=5) == [(udp, READABLE)]
    # EOF is readable; a closed handle is ready both ways (its calls raise)
    client.shutdown(socket.SHUT_WR)
    assert a.wait([server], timeout=5) == [(server, READABLE)]
    assert server.recv(10) == b""
    client.close()
    assert b.readiness(client) == READABLE | WRITABLE
    with pytest.raises(TypeError):
        a.readiness(object())


def test_wait_times_out_on_the_virtual_clock(pair, vclock):
    listener, client, server = connected(pair)
    start = vclock.now_ns
    assert pair[0].wait([server], timeout=2.0) == []
    assert vclock.now_ns - start >= 2_000_000_000


def test_a_full_send_window_is_not_writable(pair):
    listener, client, server = connected(pair)
    chunk = b"y" * 65536
    for _ in range(1000):                   # both windows fill: the peer reads nothing
        if not pair[1].wait([(client, WRITABLE)], timeout=0):
            break
        client.send(chunk, timeout=0)
    assert pair[1].readiness(client) == 0
    server.recv(1 << 20)
    assert pair[1].wait([(client, WRITABLE)], timeout=5) == [(client, WRITABLE)]


def test_selector_on_a_pair(pair):
    a, b = pair
    listener = a.listen(80)
    sel = NetchanSelector(a)
    key = sel.register(listener, selectors.EVENT_READ, "accept")
    assert sel.get_key(listener) is key and sel.get_map()[listener] is key
    assert sel.select(timeout=0) == []
    client = b.connect((SERVER_IP, 80), timeout=0)
    [(k, ev)] = sel.select(timeout=5)
    assert k.data == "accept" and ev == selectors.EVENT_READ
    server = listener.accept(timeout=0)
    sel.register(server, selectors.EVENT_READ | selectors.EVENT_WRITE)
    client.sendall(b"ping")
    assert a.wait([server], timeout=5)
    got = {k.fileobj: ev for k, ev in sel.select(timeout=5)}
    assert got[server] == selectors.EVENT_READ | selectors.EVENT_WRITE
    sel.unregister(server)
    with pytest.raises(KeyError):
        sel.get_key(server)
    sel.close()


# ---- the wake-up fd --------------------------------------------------------------

@pytest.fixture
def shm_pair():
    name = unique("bell")
    a = netchan.Stack(f"shm:{name}", ip=f"{SERVER_IP}/15")
    b = netchan.Stack(f"shm:{name}", ip=f"{CLIENT_IP}/15")
    yield name, a, b
    b.close(linger=0)
    a.close(linger=0)


def _settle(*stacks):
    while any(s.poll(0) for s in stacks):
        pass


def _readable(fd):
    return bool(select.select([fd], [], [], 0)[0])


def test_shm_bell_rings_only_while_armed(shm_pair):
    name, a, b = shm_pair
    assert os.path.exists(f"/dev/shm/netchan-link-{name}.bell0")
    assert os.path.exists(f"/dev/shm/netchan-link-{name}.bell1")
    fd = a.fileno()
    assert fd == a.port.fileno() and fd != b.fileno()
    udp = a.udp(("", 9000))
    sender = b.udp()
    _settle(a, b)
    # not armed: a frame for `a` does not ring
    sender.sendto(b"1", (SERVER_IP, 9000))
    assert not _readable(fd)
    assert a.arm_wakeup() is False          # something waits: poll, do not sleep
    _settle(a, b)
    assert udp.recvfrom(timeout=0)[0] == b"1"
    # armed: the peer's next frame makes the fd readable
    assert a.arm_wakeup() is True
    sender.sendto(b"2", (SERVER_IP, 9000))
    assert _readable(fd)
    a.clear_wakeup()
    assert not _readable(fd)
    _settle(a, b)
    assert udp.recvfrom(timeout=0)[0] == b"2"


def test_shm_bells_removed_with_the_link():
    name = unique("bellgone")
    a = netchan.Stack(f"shm:{name}", ip=f"{SERVER_IP}/15")
    b = netchan.Stack(f"shm:{name}", ip=f"{CLIENT_IP}/15")
    b.close(linger=0)
    a.close(linger=0)
    assert not [f for f in os.listdir("/dev/shm") if name in f]


def test_pair_bell_and_fault_wrapper_give_the_inner_fd(vclock):
    name = unique("pbell")
    a = netchan.Stack(f"pair:{name}?loss=0.0&seed=1", ip=f"{SERVER_IP}/15", clock=vclock)
    b = netchan.Stack(f"pair:{name}", ip=f"{CLIENT_IP}/15", clock=vclock)
    try:
        assert a.fileno() == a.port.inner.fileno()
        a.poll(0)
        assert a.arm_wakeup()
        b.udp().sendto(b"x", (SERVER_IP, 7))
        assert _readable(a.fileno())
        a.clear_wakeup()
        assert not _readable(a.fileno())
    finally:
        b.close()
        a.close()


def test_next_deadline_follows_the_timers(shm_pair):
    name, a, b = shm_pair
    _settle(a, b)
    listener = a.listen(80)
    client = b.connect((SERVER_IP, 80), timeout=0)
    d = b.next_deadline                     # the SYN's retransmission timer
    assert d is not None and b.now / 1e9 < d <= b.now / 1e9 + 2
    assert abs(b.now / 1e9 - time.monotonic()) < 0.5     # the stack's clock is CLOCK_MONOTONIC


def test_selector_sleeps_on_the_bell_with_kernel_fds(shm_pair):
    name, a, b = shm_pair
    listener = a.listen(80)
    sel = NetchanSelector(a)
    sel.register(listener, selectors.EVENT_READ, "listener")
    r, w = socket.socketpair()
    try:
        sel.register(r, selectors.EVENT_READ, "kernel")
        _settle(a, b)
        t0 = time.monotonic()
        assert sel.select(timeout=0.05) == []
        assert time.monotonic() - t0 >= 0.04
        w.send(b"!")
        assert [k.data for k, _ in sel.select(timeout=5)] == ["kernel"]
        r.recv(1)
        client = b.connect((SERVER_IP, 80), timeout=0)
        # `a` sleeps on its bell; b's SYN rings it, then the handshake needs
        # b polled too: drive b between selects
        give_up = time.monotonic() + 5
        ready = []
        while not ready and time.monotonic() < give_up:
            b.poll(0)
            ready = sel.select(timeout=0.01)
        assert [k.data for k, _ in ready] == ["listener"]
        assert client.state == "ESTABLISHED" or b.poll(0) >= 0
    finally:
        r.close()
        w.close()
