"""The Python API's contract: socket-like semantics, errors as Python's own
OSError subclasses, zero-copy views, UDP. Two stacks on a pair link, on a
virtual clock."""
import errno
import socket

import pytest

import netchan
from conftest import CLIENT_IP, SERVER_IP, unique
from helpers import pattern


def connected(pair, port=80, **kw):
    server, client = pair
    listener = server.listen(port)
    c = client.connect((SERVER_IP, port), **kw)
    s = listener.accept()
    return listener, s, c


# ---- opening and refusing ----------------------------------------------------------

def test_connect_to_closed_port_is_refused(pair):
    server, client = pair
    with pytest.raises(ConnectionRefusedError):
        client.connect((SERVER_IP, 81))
    assert server.stats()["tcp_rst_sent"] == 1
    assert client.n_connections == 0


def test_connect_to_absent_host_times_out(pair, vclock):
    server, client = pair
    start = vclock.now()
    with pytest.raises(TimeoutError):
        client.connect(("198.18.0.77", 80), timeout=3)   # before ARP gives up (5 s)
    assert 3e9 <= vclock.now() - start < 4e9
    assert client.n_connections == 0
    assert client.stats()["tx_arp_request"] >= 3


def test_connect_without_timeout_fails_when_arp_gives_up(pair, vclock):
    # nobody answers ARP for the address: EHOSTUNREACH after the ARP
    # retries (5 x 1 s), not TimeoutError after every SYN retry (minutes)
    server, client = pair
    start = vclock.now()
    with pytest.raises(OSError) as e:
        client.connect(("198.18.0.77", 80))
    assert e.value.errno == errno.EHOSTUNREACH
    assert 5e9 <= vclock.now() - start < 6e9


def test_connect_off_network_is_unreachable(pair):
    _, client = pair
    with pytest.raises(OSError) as e:
        client.connect(("10.0.0.1", 80))
    assert e.value.errno == 113  # EHOSTUNREACH


def test_connect_validates_arguments(pair):
    _, client = pair
    with pytest.raises(ValueError):
        client.connect(("not an ip", 80))
    with pytest.raises(ValueError):
        client.connect((SERVER_IP, 0))
    with pytest.raises(ValueError, match="seconds > 0, or 0"):
        client.connect((SERVER_IP, 80), timeout=-1)
    with pytest.raises(TypeError, match=r"expected a \(host, port\) tuple, e.g. \('198.18.0.1', 80\)"):
        client.connect(f"{SERVER_IP}:80")


def test_connect_with_timeout_0_returns_during_the_handshake(pair):
    server, client = pair
    listener = server.listen(80)
    conn = client.connect((SERVER_IP, 80), timeout=0)
    assert conn.state == "SYN_SENT"                 # the SYN is out, nothing came back yet
    with pytest.raises(BlockingIOError):
        conn.recv(10, timeout=0)
    conn.sendall(b"early", timeout=10)              # waits for the handshake, then sends
    peer = listener.accept(timeout=10)
    assert conn.state == "ESTABLISHED"
    assert peer.recv(10, timeout=10) == b"early"
    # refused without a listener: the error shows on the connection's next call
    late = client.connect((SERVER_IP, 81), timeout=0)
    with pytest.raises(ConnectionRefusedError):
        late.recv(10, timeout=10)


def test_source_port_and_ephemeral_ports(pair):
    server, client = pair
    listener = server.listen(80)
    c1 = client.connect((SERVER_IP, 80), source_port=40000)
    assert c1.getsockname() == (CLIENT_IP, 40000)
    with pytest.raises(OSError) as e:
        client.connect((SERVER_IP, 80), source_port=40000)
    assert e.value.errno == 98  # EADDRINUSE
    c2 = client.connect((SERVER_IP, 80))
    assert 49152 <= c2.getsockname()[1] <= 65535
    s1, s2 = listener.accept(), listener.accept()
    assert {s1.getpeername(), s2.getpeername()} == {c1.getsockname(), c2.getsockname()}


def test_listen_twice_on_a_port_fails(pair):
    server, _ = pair
    first = server.listen(80)
    with pytest.raises(OSError) as e:
        server.listen(80)
    assert e.value.errno == 98
    first.close()


def test_accept_timeout(pair, vclock):
    server, _ = pair
    listener = server.listen(80)
    start = vclock.now()
    with pytest.raises(TimeoutError):
        listener.accept(timeout=2.5)
    assert vclock.now() - start == pytest.approx(2.5e9, abs=2e6)


def test_backlog_bounds_pending_connections(pair):
    server, client = pair
    listener = server.listen(80, backlog=2)
    conns = [client.connect((SERVER_IP, 80), timeout=3) for _ in range(2)]
    server.run_until(lambda: listener.pending == 2)
    with pytest.raises(TimeoutError):
        client.connect((SERVER_IP, 80), timeout=3)
    assert listener.pending == 2
    assert listener.overflows >= 1
    assert server.stats()["tcp_listen_overflow"] >= 1
    assert all(c.state == "ESTABLISHED" for c in conns)


def test_listener_close_resets_unaccepted(pair):
    server, client = pair
    listener = server.listen(80)
    c = client.connect((SERVER_IP, 80))
    listener.close()
    with pytest.raises(ConnectionResetError):
        c.recv(10)
    with pytest.raises(OSError):
        listener.accept()


# ---- data, EOF, errors ----------------------------------------------------------------

def test_recv_returns_what_is_there_and_eof(pair):
    _, s, c = connected(pair)
    c.sendall(b"abc")
    assert s.recv(2) == b"ab"
    assert s.recv(100) == b"c"
    c.shutdown(socket.SHUT_WR)
    assert s.recv(100) == b""
    assert s.recv(100) == b""
    s.sendall(b"still open")            # half-close: the other direction works
    assert c.recv(100) == b"still open"
    assert s.state == "CLOSE_WAIT"


def test_send_after_shutdown_is_broken_pipe(pair):
    _, s, c = connected(pair)
    c.shutdown(socket.SHUT_WR)
    with pytest.raises(BrokenPipeError):
        c.send(b"x")


def test_recv_timeout_and_nonblocking(pair, vclock):
    _, s, c = connected(pair)
    with pytest.raises(BlockingIOError):
        s.recv(10, timeout=0)
    start = vclock.now()
    with pytest.raises(TimeoutError):
        s.recv(10, timeout=1.5)
    assert vclock.now() - start == pytest.approx(1.5e9, abs=2e6)


def test_abort_resets_peer(pair):
    _, s, c = connected(pair)
    c.abort()
    with pytest.raises(ConnectionResetError):
        s.recv(10)
    with pytest.raises(ConnectionResetError):
        s.send(b"x")
    with pytest.raises(OSError):
        c.recv(1)


def test_close_with_unread_data_resets(pair):
    _, s, c = connected(pair)
    c.sendall(b"unread")
    pair[0].run_until(lambda: s.readable > 0)
    s.close()
    with pytest.raises(ConnectionResetError):
        c.recv(10)


def test_recv_into_and_sendall_large(pair):
    server, client = pair
    _, s, c = connected(pair)
    data = pattern(3 << 20, seed=1)
    from helpers import pump_transfer
    import hashlib
    digest, got = pump_transfer(client, c, s, data)
    assert digest == hashlib.sha256(data).hexdigest()
    c.sendall(b"0123456789")
    buf = bytearray(4)
    assert s.recv_into(buf) == 4 and buf == b"0123"
    assert s.recv_into(buf, 2) == 2 and buf[:2] == b"45"
    mv = memoryview(bytearray(10))
    assert s.recv_into(mv) == 4 and bytes(mv[:4]) == b"6789"


def test_connection_info_and_properties(pair):
    _, s, c = connected(pair)
    info = c.info()
    assert info["state"] == "ESTABLISHED"
    assert info["timestamps"] and info["sack"]
    assert info["snd_wscale"] is not None
    assert c.mss == 1500 - 40 - 12
    assert c.cwnd == info["cwnd"] > 0
    assert c.ssthresh > 0 and c.rto >= 1.0
    assert repr(c).startswith("<netchan.Connection")


def test_options_can_be_turned_off(vclock):
    name = unique("noopt")
    a = netchan.Stack(f"pair:{name}", ip="198.18.0.1/15", clock=vclock, timestamps=False,
                      sack=False, window_scaling=False)
    b = netchan.Stack(f"pair:{name}", ip="198.18.0.2/15", clock=vclock)
    try:
        listener = a.listen(80)
        c = b.connect(("198.18.0.1", 80))
        info = c.info()
        assert not info["timestamps"] and not info["sack"]
        assert info["snd_wscale"] is None and c.mss == 1460
    finally:
        b.close()
        a.close()


# ---- zero-copy views --------------------------------------------------------------------

def test_recv_view_does_not_consume(pair):
    _, s, c = connected(pair)
    c.sendall(b"hello world")
    v = s.recv_view()
    assert bytes(v) == b"hello world" and v.readonly
    v.release()
    v = s.recv_view()
    assert bytes(v) == b"hello world"
    s.consume(6)
    v.release()
    assert bytes(s.recv_view()) == b"world"
    with pytest.raises(ValueError):
        s.consume(6)
    s.consume(5)
    assert s.readable == 0


def test_recv_view_empty_at_eof(pair):
    _, s, c = connected(pair)
    c.close()
    v = s.recv_view()
    assert len(v) == 0


def test_view_pins_its_bytes_while_the_window_wraps(pair):
    """A live view keeps its bytes: the window does not reopen over them even
    after consume(), so new data cannot overwrite what the view shows."""
    server, client = pair
    _, s, c = connected(pair)
    first = pattern(600_000, seed=2)
    c.sendall(first)
    server.run_until(lambda: s.readable == len(first))
    view = s.recv_view()
    assert bytes(view) == first
    s.consume(len(first))               # consumed, but still viewed
    more = pattern(900_000, seed=3)     # would wrap the 1 MiB ring onto the view
    sent = 0
    while sent < len(more):
        try:
            sent += c.send(more[sent:], timeout=0)
        except BlockingIOError:
            if server.poll(timeout=None) == 0:
                break
    assert bytes(view) == first          # untouched
    assert s.readable < len(more)        # the pinned bytes held the window shut
    view.release()
    got = bytearray()
    while len(got) < len(more):
        got += s.recv(1 << 20)
    assert bytes(got) == more


def test_view_outlives_connection_and_stack(vclock):
    name = unique("outlive")
    a = netchan.Stack(f"pair:{name}", ip="198.18.0.1/15", clock=vclock)
    b = netchan.Stack(f"pair:{name}", ip="198.18.0.2/15", clock=vclock)
    listener = a.listen(82)
    c2 = b.connect(("198.18.0.1", 82))
    conn = listener.accept()
    c2.sendall(b"persistent bytes")
    view = conn.recv_view()
    conn.close()                        # RST (unread data), slot release deferred
    assert a.stats()["window_deferred_releases"] >= 1
    b.close()
    a.close()
    assert bytes(view) == b"persistent bytes"
    view.release()


def test_send_view_and_commit(pair):
    _, s, c = connected(pair)
    v = c.send_view(min_bytes=10)
    assert not v.readonly and len(v) >= 10
    v[:5] = b"abcde"
    v.release()
    c.commit(5)
    assert s.recv(10) == b"abcde"
    with pytest.raises(ValueError):
        c.commit(10 << 20)
    with pytest.raises(ValueError):
        c.send_view(min_bytes=0)


def test_memoryview_of_window_is_contiguous_across_the_wrap(pair):
    """Windows are mapped twice back to back: data that wraps the ring's end
    still comes out as one memoryview."""
    server, client = pair
    _, s, c = connected(pair)
    size = 1 << 20
    a = pattern(size - 1000, seed=4)
    c.sendall(a)
    got = bytearray()
    while len(got) < len(a):
        got += s.recv(1 << 20)
    b = pattern(5000, seed=5)           # lands across offset `size`
    c.sendall(b)
    server.run_until(lambda: s.readable == len(b))
    v = s.recv_view()
    assert len(v) == len(b) and bytes(v) == b
    v.release()


# ---- UDP -------------------------------------------------------------------------------

def test_udp_roundtrip(pair):
    server, client = pair
    u1 = server.udp(("198.18.0.1", 5353))
    u2 = client.udp()
    assert u2.sendto(b"ping", ("198.18.0.1", 5353)) == 4
    data, addr = u1.recvfrom()
    assert data == b"ping" and addr == u2.getsockname()
    u1.sendto(b"pong" * 300, addr)
    data, addr = u2.recvfrom(100)
    assert data == (b"pong" * 300)[:100] and addr == ("198.18.0.1", 5353)


def test_udp_errors(pair, vclock):
    server, client = pair
    u = client.udp()
    with pytest.raises(OSError) as e:
        u.sendto(b"x" * 65508, ("198.18.0.1", 9))   # more than an IPv4 datagram holds
    assert e.value.errno == 90  # EMSGSIZE
    with pytest.raises(OSError):
        client.udp(("198.18.0.1", 1))
    bound = server.udp(("198.18.0.1", 7))
    with pytest.raises(OSError):
        server.udp(("198.18.0.1", 7))
    bound.close()
    with pytest.raises(TimeoutError):
        u.recvfrom(timeout=1)
    u.sendto(b"nobody", ("198.18.0.1", 9))     # waits for ARP, then is refused
    server.run_until(lambda: server.stats()["rx_udp_no_port"] == 1, timeout=1)
    client.run_until(lambda: client.stats()["rx_icmp_other"] == 1, timeout=1)
    assert server.stats()["tx_icmp_unreach"] == 1


def test_udp_channel_is_bounded(pair):
    server, client = pair
    u1 = server.udp(("198.18.0.1", 6000))
    u2 = client.udp()
    for i in range(1500):
        u2.sendto(b"%d" % i, ("198.18.0.1", 6000))
        if i % 30 == 0:
            server.poll()
    server.poll()
    assert u1.drops > 0
    assert server.stats()["udp_channel_full"] == u1.drops
    received = 0
    try:
        while True:
            u1.recvfrom(timeout=0)
            received += 1
    except BlockingIOError:
        pass
    assert received + u1.drops == 1500


# ---- stack-level ------------------------------------------------------------------------

def test_stats_and_arp(pair):
    server, client = pair
    connected(pair)
    st = client.stats()
    for name in netchan.COUNTER_NAMES:
        assert name in st
    assert st["tcp_active_opens"] == 1 and st["tcp_established"] == 1
    assert client.arp_table() == {SERVER_IP: server.mac}
    assert server.arp_table() == {CLIENT_IP: client.mac}


def test_bad_configuration_says_what_to_fix(vclock):
    with pytest.raises(ValueError, match="prefix"):
        netchan.Stack(f"pair:{unique()}", ip="198.18.0.1", clock=vclock)
    with pytest.raises(ValueError, match="KIND:TARGET"):
        netchan.Stack("nonsense", clock=vclock)
    with pytest.raises(ValueError, match="unknown parameter"):
        netchan.Stack(f"pair:{unique()}?lossy=1", clock=vclock)
    with pytest.raises(ValueError, match="probability"):
        netchan.Stack(f"pair:{unique()}?loss=2", clock=vclock)
    with pytest.raises(ValueError, match="rcvbuf"):
        netchan.Stack(f"pair:{unique()}", clock=vclock, rcvbuf=10)
    with pytest.raises(TypeError):
        netchan.Stack(f"pair:{unique()}", clock=object())


def test_closed_stack_refuses_calls(pair):
    server, client = pair
    _, s, c = connected(pair)
    client.close()
    with pytest.raises(OSError):
        c.recv(1)
    with pytest.raises(OSError):
        client.listen(99)
    client.close()                      # idempotent


def test_udp_datagrams_larger_than_the_mtu_are_fragmented_and_reassembled(pair):
    server, client = pair
    u1 = server.udp(("198.18.0.1", 7777))
    u2 = client.udp()
    big = pattern(60000, seed=9)
    u2.sendto(b"small first", ("198.18.0.1", 7777))
    u2.sendto(big, ("198.18.0.1", 7777))
    u2.sendto(b"small last", ("198.18.0.1", 7777))
    assert u1.recvfrom()[0] == b"small first"
    assert u1.recvfrom()[0] == big               # in arrival order
    assert u1.recvfrom()[0] == b"small last"
    assert client.stats()["ip_frags_out"] == 41  # ceil(60008 / 1480)
    st = server.stats()
    assert st["ip_frags_in"] == 41 and st["ip_reassembled"] == 1
