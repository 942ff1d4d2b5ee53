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

