"""Lifetimes of the Python handles (issue 9) and the small things around
them: handles Python cannot make, handles checked by generation and by their
stack, a Connection closed when collected, views that cannot reach freed or
in-flight memory, recv(0), conn.error, EHOSTUNREACH when ARP gives up, a
channel that cannot overflow, numpy over a receive view. Two stacks on a
pair link (or a stack and the bare other end) on a virtual clock."""
import errno
import gc
import socket
import warnings

import numpy as np
import pytest

import netchan
from conftest import CLIENT_IP, PEER_IP, SERVER_IP
from helpers import pattern


def connected(pair, port=80):
    server, client = pair
    listener = server.listen(port)
    c = client.connect((SERVER_IP, port))
    s = listener.accept()
    return listener, s, c


def read_all(conn):
    out = bytearray()
    while True:
        chunk = conn.recv(1 << 20)
        if not chunk:
            return bytes(out)
        out += chunk


# ---- handles Python cannot make ---------------------------------------------------

@pytest.mark.parametrize("cls, made_by", [(netchan.Connection, "Stack.connect"),
                                          (netchan.Listener, "Stack.listen"),
                                          (netchan.UdpSocket, "Stack.udp")])
def test_handles_cannot_be_constructed(cls, made_by):
    with pytest.raises(TypeError, match="cannot be created directly") as e:
        cls()
    assert made_by in str(e.value)
    with pytest.raises(TypeError):
        cls(1, 2, x=3)


CONNECTION_CALLS = [
    ("state", lambda c: c.state), ("error", lambda c: c.error),
    ("readable", lambda c: c.readable), ("recv", lambda c: c.recv(10)),
    ("recv0", lambda c: c.recv(0)), ("recv_into", lambda c: c.recv_into(bytearray(4))),
    ("recv_view", lambda c: c.recv_view()), ("consume", lambda c: c.consume(0)),
    ("send", lambda c: c.send(b"x")), ("sendall", lambda c: c.sendall(b"x")),
    ("send_view", lambda c: c.send_view()), ("commit", lambda c: c.commit(0)),
    ("shutdown", lambda c: c.shutdown(socket.SHUT_WR)), ("getpeername", lambda c: c.getpeername()),
    ("getsockname", lambda c: c.getsockname()), ("info", lambda c: c.info()),
    ("nodelay", lambda c: c.nodelay), ("cc", lambda c: c.cc), ("cwnd", lambda c: c.cwnd),
    ("set_keepalive", lambda c: c.set_keepalive(None)), ("mss", lambda c: c.mss),
]


@pytest.mark.parametrize("name, call", CONNECTION_CALLS, ids=[n for n, _ in CONNECTION_CALLS])
def test_connection_made_by_new_raises_ebadf(name, call):
    # __new__ skips the __init__ guard; the object must still be harmless
    c = netchan.Connection.__new__(netchan.Connection)
    with pytest.raises(OSError) as e:
        call(c)
    assert e.value.errno == errno.EBADF
    assert "not made by" in str(e.value)
    with pytest.raises(OSError):
        c.close()
    with pytest.raises(OSError):
        c.abort()
    assert "not made by a Stack" in repr(c)
    del c
    gc.collect()                    # its finalizer must not touch anything either


def test_listener_and_udp_made_by_new_raise_ebadf():
    lst = netchan.Listener.__new__(netchan.Listener)
    for call in (lambda: lst.accept(timeout=0), lambda: lst.backlog, lambda: lst.pending,
                 lambda: lst.overflows, lst.close):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EBADF
    assert "not made by a Stack" in repr(lst)
    u = netchan.UdpSocket.__new__(netchan.UdpSocket)
    for call in (lambda: u.sendto(b"x", (SERVER_IP, 9)), lambda: u.recvfrom(timeout=0),
                 lambda: u.drops, u.getsockname, u.close):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EBADF
    assert "not made by a Stack" in repr(u)


def test_window_export_cannot_be_made_or_viewed():
    from netchan import _core
    with pytest.raises(TypeError):
        _core.WindowExport()
    ex = _core.WindowExport.__new__(_core.WindowExport)
    with pytest.raises(BufferError):
        memoryview(ex)


@pytest.mark.parametrize("name, call", [c for c in CONNECTION_CALLS if c[0] != "state"],
                         ids=[n for n, _ in CONNECTION_CALLS if n != "state"])
def test_connection_after_stack_close_raises_ebadf(pair, name, call):
    _, s, c = connected(pair)
    pair[1].close()
    with pytest.raises(OSError) as e:
        call(c)
    assert e.value.errno == errno.EBADF
    assert "the stack is closed" in str(e.value)
    assert c.state == "CLOSED"
    c.close()                       # no-ops, as closing a closed socket
    c.abort()
    assert "closed" in repr(c)


def test_listener_and_udp_after_stack_close_raise_ebadf(pair):
    server, _ = pair
    lst = server.listen(80)
    u = server.udp((SERVER_IP, 53))
    server.close()
    for call in (lambda: lst.accept(timeout=0), lambda: lst.pending,
                 lambda: u.recvfrom(timeout=0), lambda: u.sendto(b"x", (CLIENT_IP, 9)),
                 u.getsockname):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EBADF
        assert "the stack is closed" in str(e.value)
    lst.close()
    u.close()
    assert "closed" in repr(lst) and "closed" in repr(u)


# ---- listeners checked by generation ----------------------------------------------

def test_half_open_child_of_closed_listener_is_not_accepted_by_the_next(pair):
    """The child of a closed listener completes its handshake after another
    listener (another port) took the closed one's slot: it is refused (RST),
    never handed to the new listener."""
    server, client = pair
    # use every listener slot but one, so the next listen() must reuse the
    # slot of the listener on port 80
    old = server.listen(80)
    others = [server.listen(1000 + i) for i in range(255)]
    with pytest.raises(OSError) as e:
        server.listen(999)
    assert e.value.errno == errno.EMFILE
    c = client.connect((SERVER_IP, 80), timeout=0)
    # run until the server made the half-open child; the client's ACK is
    # then on its way, not yet taken in
    server.run_until(lambda: server.stats()["tcp_passive_opens"] == 1, timeout=5)
    assert c.state == "ESTABLISHED"
    assert server.stats()["tcp_established"] == 0
    old.close()
    new = server.listen(81)             # the only free slot: port 80's
    server.run_until(lambda: c.state == "CLOSED", timeout=5)
    with pytest.raises(ConnectionResetError):
        c.recv(1)                       # refused with a RST
    assert new.pending == 0
    with pytest.raises(BlockingIOError):
        new.accept(timeout=0)
    with pytest.raises(OSError) as e:
        old.accept(timeout=0)
    assert e.value.errno == errno.EBADF
    # the new listener works, and its own children are accepted
    c2 = client.connect((SERVER_IP, 81))
    s2 = new.accept(timeout=5)
    assert s2.getpeername() == c2.getsockname()
    for lst in others:
        lst.close()
    for conn in (c, c2, s2):
        conn.close()


# ---- collected without close() ----------------------------------------------------

def test_connection_collected_without_close_closes_gracefully(pair):
    server, client = pair
    _, s, c = connected(pair)
    data = pattern(300_000, seed=3)
    queued = c.send(data)
    assert queued == len(data)          # all in the send window, most not yet sent
    with pytest.warns(ResourceWarning, match="unclosed <netchan.Connection"):
        del c
        gc.collect()
    # the FIN follows the queued bytes: the server reads them all, then EOF
    assert read_all(s) == data
    assert client.n_connections <= 1    # gone, or finishing its close
    client.run_until(lambda: client.n_connections == 0, timeout=120)
    s.close()


def test_connection_collected_after_stack_close_sends_nothing(pair):
    server, client = pair
    _, s, c = connected(pair)
    client.close()                      # a FIN for c (the stack's lingering close)
    server.poll(0)
    assert s.state == "CLOSE_WAIT" and s.error == 0
    rx = server.stats()["rx_frames"]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        del c
        gc.collect()
    assert not [x for x in w if issubclass(x.category, ResourceWarning)]
    server.poll(0)
    assert server.stats()["rx_frames"] == rx
    s.close()


def test_closed_connection_collected_warns_nothing(pair):
    _, s, c = connected(pair)
    c.close()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        del c
        gc.collect()
    assert not [x for x in w if issubclass(x.category, ResourceWarning)]
    s.close()


def test_listener_collected_unclosed_stops_listening_with_a_warning(pair):
    """A listener nobody holds can never be accepted from: collecting it
    closes it (connections are then refused) and warns, as socket.socket."""
    server, client = pair
    listener = server.listen(80)
    with pytest.warns(ResourceWarning, match="unclosed <netchan.Listener"):
        del listener
        gc.collect()
    assert server.stats()["listeners"] == 0
    with pytest.raises(ConnectionRefusedError):
        client.connect((SERVER_IP, 80), timeout=5)
    again = server.listen(80)           # the port is free again
    again.close()


def test_udp_socket_collected_unclosed_unbinds_with_a_warning(pair):
    server, _ = pair
    sock = server.udp(5353)
    with pytest.warns(ResourceWarning, match="unclosed <netchan.UdpSocket"):
        del sock
        gc.collect()
    server.udp(5353).close()            # the port is free again


def test_closed_listener_and_udp_socket_collected_warn_nothing(pair):
    server, _ = pair
    listener = server.listen(80)
    sock = server.udp(5353)
    listener.close()
    sock.close()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        del listener, sock
        gc.collect()
    assert not [x for x in w if issubclass(x.category, ResourceWarning)]


# ---- views ------------------------------------------------------------------------

def test_receive_view_released_after_stack_close_sends_nothing(pair):
    server, client = pair
    _, s, c = connected(pair)
    # fill the client's receive window, so that giving the bytes back would
    # announce a window update
    s.send(pattern(1 << 20))
    client.run_until(lambda: c.readable == 1 << 20, timeout=30)
    v = c.recv_view()
    c.consume(len(v))                   # the view still pins the bytes
    client.close()
    server.poll(0)
    rx = server.stats()["rx_frames"]
    v.release()                         # would be the window update
    server.poll(0)
    assert server.stats()["rx_frames"] == rx
    s.close()


def test_commit_while_send_view_exported_raises(pair):
    server, _ = pair
    _, s, c = connected(pair)
    v = c.send_view()
    v[:5] = b"hello"
    with pytest.raises(BufferError, match="release it first"):
        c.commit(5)
    with pytest.raises(BufferError):
        c.send(b"other")
    with pytest.raises(BufferError):
        c.sendall(b"other")
    part = v[:5]                        # a view made from the view holds it too
    v.release()
    with pytest.raises(BufferError):
        c.commit(5)
    del part
    c.commit(5)
    with pytest.raises(ValueError):     # released: it cannot reach the queued bytes
        v[:5] = b"EVIL!"
    with c.send_view() as v2:           # the documented form
        v2[:3] = b"abc"
    c.commit(3)
    got = b""
    while len(got) < 8:
        got += s.recv(8, timeout=5)
    assert got == b"helloabc"
    c.close()
    s.close()


def test_send_view_after_close_never_reaches_the_wire(pair):
    """A view handed out before close() covers only space after the queued
    bytes: whatever it writes after close is never sent, and retransmissions
    carry what was committed."""
    server, client = pair
    _, s, c = connected(pair)
    with c.send_view() as v:
        v[:5] = b"hello"
    c.commit(5)
    late = c.send_view()
    c.close()
    late[:5] = b"EVIL!"
    assert read_all(s) == b"hello"
    late.release()
    s.close()


def test_numpy_over_receive_view_is_zero_copy(pair):
    server, client = pair
    _, s, c = connected(pair)
    data = pattern(100_000, seed=5)
    s.sendall(data)
    client.run_until(lambda: c.readable == len(data), timeout=30)
    a = np.frombuffer(c.recv_view(), dtype=np.uint8)
    b = np.frombuffer(c.recv_view(), dtype=np.uint8)
    assert a.tobytes() == data
    assert not a.flags.owndata and not a.flags.writeable
    assert np.shares_memory(a, b)       # both are the window itself, not copies
    assert a.ctypes.data == b.ctypes.data
    # the array pins the window: giving the bytes back and receiving more
    # does not move or overwrite what it shows
    c.consume(len(data))
    s.sendall(b"x" * 1000)
    client.run_until(lambda: c.readable == 1000, timeout=30)
    assert a.tobytes() == data
    del a, b
    assert c.recv(2000) == b"x" * 1000
    c.close()
    s.close()


# ---- small things -----------------------------------------------------------------

def test_recv_zero_returns_at_once(pair, vclock):
    _, s, c = connected(pair)
    now = vclock.now()
    assert c.recv(0) == b""
    assert c.recv(0, timeout=None) == b""
    assert c.recv_into(bytearray(0)) == 0
    assert vclock.now() == now          # nothing waited
    s.sendall(b"abc")
    assert c.recv(0) == b""             # does not consume
    assert c.recv(10, timeout=5) == b"abc"
    c.close()
    with pytest.raises(OSError):
        c.recv(0)                       # a closed connection still says so
    s.close()


def test_error_reports_pending_error_without_reading(pair):
    server, client = pair
    _, s, c = connected(pair)
    assert c.error == 0
    s.sendall(b"unread")
    client.run_until(lambda: c.readable == 6, timeout=5)
    s.abort()
    client.run_until(lambda: c.error != 0, timeout=5)
    assert c.error == errno.ECONNRESET
    assert c.error == errno.ECONNRESET  # reading it does not clear it
    assert c.readable == 6              # nor read any data
    assert c.recv(10) == b"unread"
    with pytest.raises(ConnectionResetError):
        c.recv(10)
    assert c.error == errno.ECONNRESET
    c.close()


def test_error_of_refused_nonblocking_connect(pair):
    server, client = pair
    c = client.connect((SERVER_IP, 81), timeout=0)
    assert c.error == 0
    client.run_until(lambda: c.error != 0, timeout=5)
    assert c.error == errno.ECONNREFUSED
    assert c.state == "CLOSED"
    c.close()


def test_connect_fails_with_ehostunreach_when_arp_gives_up(raw_peer, vclock):
    """The other end of the link never answers (its frames are discarded):
    the connection fails when ARP gives up (arp_max_tries x arp_retry_ns =
    5 x 1 s), with EHOSTUNREACH, not after 6 SYN retries (over two minutes)."""
    stack, port = raw_peer
    start = vclock.now()
    c = stack.connect((PEER_IP, 80), timeout=0)
    other = stack.connect((PEER_IP, 81), timeout=0)
    while c.state == "SYN_SENT":
        port.recv(64)                   # a peer that hears everything and says nothing
        assert vclock.now() - start < 10e9
        stack.poll(None)
    elapsed = vclock.now() - start
    assert 5e9 <= elapsed < 6e9
    for conn in (c, other):
        assert conn.state == "CLOSED"
        with pytest.raises(OSError) as e:
            conn.recv(1)
        assert e.value.errno == errno.EHOSTUNREACH
    arp = stack.stats()["tx_arp_request"]
    assert arp >= 5
    c.close()
    other.close()
    # a blocking connect says the same
    start = vclock.now()
    with pytest.raises(OSError) as e:
        stack.connect((PEER_IP, 80))
    assert e.value.errno == errno.EHOSTUNREACH
    assert 5e9 <= vclock.now() - start < 6e9
    assert stack.n_connections == 0


def test_a_poll_never_overflows_a_connection_channel(peer):
    """tcp_channel_full is gone because it cannot count: a poll takes at most
    RX_ROUNDS x BURST (128) frames and drains every channel before it
    returns, and a channel holds 256. 300 segments for one connection wait
    on the link at once; every one is taken in."""
    from tcp_harness import IRS, ISS
    conn = peer.established()
    n, size = 300, 100
    for i in range(n):
        peer.port.send(bytes(peer.segment("A", seq=IRS + 1 + i * size, ack=ISS + 1,
                                         data=bytes([i & 0xFF]) * size)))
    stats0 = peer.stack.stats()
    assert "tcp_channel_full" not in stats0
    polls = 0
    while conn.readable < n * size:
        assert peer.stack.poll(0) > 0
        polls += 1
    assert polls >= 3                   # it really took them 128 at most per poll
    got = conn.recv(n * size)
    assert got == b"".join(bytes([i & 0xFF]) * size for i in range(n))
    assert peer.stack.stats()["tcp_segs_in"] - stats0["tcp_segs_in"] == n
