"""Lifetimes of the Python handles (issue 9) and the small things around
them: handles Python cannot make, handles checked by generation and by their
stack, a Connection closed when collected, views that cannot reach freed or
in-flight memory, recv(0), conn.error, EHOSTUNREACH when ARP gives up, a
channel that cannot overflow, numpy over a receive view. Two stacks on a
pair link (or a stack and the bare other end) on a virtual clock."""
import errno

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


# ---- small things -----------------------------------------------------------------

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
