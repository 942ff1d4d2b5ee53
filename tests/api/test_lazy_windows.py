"""Windows attached at first data and given back when empty (issue 9,
"Memory for a million"): a half-open or idle connection holds no window
slot; a slot keeps its pages for a second after it is freed (so draining and
refilling costs no system call) and is then punched; `window_memory` caps the
attached windows of a stack and refuses new connections with ENOBUFS (or a
RST to a SYN), never a timeout."""
import errno
import hashlib

import pytest

import netchan
from conftest import unique
from helpers import pattern, pump_transfer

SERVER, CLIENT = "198.18.0.1", "198.18.0.2"
WIN = 65536


def _pair(vclock, server_opts=None, client_opts=None, query=""):
    name = unique("lazy")
    a = netchan.Stack(f"pair:{name}{query}", ip=f"{SERVER}/15", clock=vclock, seed=1,
                      rcvbuf=WIN, sndbuf=WIN, **(server_opts or {}))
    b = netchan.Stack(f"pair:{name}", ip=f"{CLIENT}/15", clock=vclock, seed=2,
                      rcvbuf=WIN, sndbuf=WIN, **(client_opts or {}))
    return a, b


def _slots(stack):
    return stack.stats()["window_slots_in_use"]


def _settle(stack, rounds=20):
    for _ in range(rounds):
        stack.poll()


@pytest.fixture
def lazy_pair(vclock):
    a, b = _pair(vclock)
    yield a, b
    b.close()
    a.close()


def test_half_open_and_idle_connections_hold_no_window(lazy_pair):
    server, client = lazy_pair
    listener = server.listen(80, backlog=4)
    conn = client.connect((SERVER, 80), timeout=0)      # SYN sent, completes in the background
    assert conn.state == "SYN_SENT"
    assert _slots(client) == 0
    server.poll()
    assert _slots(server) == 0 and _slots(client) == 0
    peer = listener.accept(timeout=5)
    _settle(server)
    assert conn.state == peer.state == "ESTABLISHED"
    assert _slots(server) == 0 and _slots(client) == 0
    assert server.stats()["window_bytes_in_use"] == 0
    for c in (conn, peer, listener):
        c.close()


def test_slot_held_while_buffered_and_given_back_when_idle(lazy_pair, vclock):
    server, client = lazy_pair
    listener = server.listen(80)
    conn = client.connect((SERVER, 80))
    peer = listener.accept()
    conn.sendall(b"x" * 1000)
    assert peer.recv_view(timeout=5).tobytes() == b"x" * 1000
    _settle(server)
    # everything acknowledged: the sender's slot is back, the receiver's is
    # held for the unread bytes
    assert _slots(client) == 0
    assert _slots(server) == 1
    assert server.stats()["window_bytes_in_use"] == WIN
    assert peer.recv(2000) == b"x" * 1000
    assert _slots(server) == 0
    # the freed slots keep their pages for a second (warm), then are punched
    assert server.stats()["window_slots_warm"] == 1
    punched = server.stats()["window_punches"]
    vclock.advance(1_200_000_000)
    _settle(server, 3)
    st = server.stats()
    assert st["window_slots_warm"] == 0 and st["window_punches"] == punched + 1
    # and the connection still works: both windows attach again
    peer.sendall(b"back")
    assert conn.recv(10, timeout=5) == b"back"
    vclock.advance(100_000_000)                     # past the delayed ACK
    _settle(server)
    assert _slots(client) == 0 and _slots(server) == 0
    for c in (conn, peer, listener):
        c.close()


def test_drain_and_refill_pays_no_punch(lazy_pair):
    """An active connection reuses its warm slot: no punch per emptying."""
    server, client = lazy_pair
    listener = server.listen(80)
    conn = client.connect((SERVER, 80))
    peer = listener.accept()
    before = server.stats()["window_punches"], client.stats()["window_punches"]
    for i in range(50):
        conn.sendall(b"%05d" % i)
        assert peer.recv(5, timeout=5) == b"%05d" % i
    _settle(server)
    assert (server.stats()["window_punches"], client.stats()["window_punches"]) == before
    assert server.stats()["window_slots_mapped"] == 1   # the same slot each time
    for c in (conn, peer, listener):
        c.close()


def test_transfer_byte_exact_across_detach_and_reattach(vclock):
    """Lossy, reordering link, small windows: both windows drain (detach)
    and refill (attach again) many times, retransmissions included."""
    a, b = _pair(vclock, query="?loss=0.02&reorder=0.02&dup=0.01&seed=5")
    try:
        listener = a.listen(9000)
        client = b.connect((SERVER, 9000))
        server = listener.accept()
        for round_ in range(4):
            data = pattern(1 << 20, seed=round_)
            digest, got = pump_transfer(b, client, server, data, chunk=1 << 14)
            assert got == len(data) and digest == hashlib.sha256(data).hexdigest()
            # the other way too
            digest, got = pump_transfer(b, server, client, data[: 1 << 18], chunk=4096)
            assert digest == hashlib.sha256(data[: 1 << 18]).hexdigest()
            for _ in range(200):
                if _slots(a) == 0 and _slots(b) == 0:
                    break
                b.poll(timeout=0.05)
            assert _slots(a) == 0 and _slots(b) == 0, (a.stats()["window_slots_in_use"],
                                                       b.stats()["window_slots_in_use"])
        assert b.stats()["tcp_retransmits"] > 0 and a.stats()["tcp_retransmits"] > 0
        for c in (client, server, listener):
            c.close()
    finally:
        b.close()
        a.close()


def test_send_view_keeps_its_slot_until_commit(lazy_pair, vclock):
    """A send view released but not yet committed: even when everything
    queued is acknowledged meanwhile, the slot (and the bytes written into
    it) stays until commit()."""
    server, client = lazy_pair
    listener = server.listen(80)
    conn = client.connect((SERVER, 80))
    peer = listener.accept()
    conn.sendall(b"first")
    with conn.send_view() as view:
        view[:5] = b"hello"
    assert peer.recv(5, timeout=5) == b"first"
    vclock.advance(100_000_000)
    _settle(server)
    assert conn.info()["send_queued"] == 0          # all acknowledged
    assert _slots(client) == 1                      # held for the view's commit
    conn.commit(5)
    assert peer.recv(5, timeout=5) == b"hello"
    vclock.advance(100_000_000)                     # past the delayed ACK
    _settle(server)
    assert _slots(client) == 0
    # a view given up without a commit holds nothing after commit(0)
    with conn.send_view() as view:
        view[:1] = b"?"
    assert _slots(client) == 1
    conn.commit(0)
    assert _slots(client) == 0
    for c in (conn, peer, listener):
        c.close()


def test_receive_view_pins_its_slot(lazy_pair):
    server, client = lazy_pair
    listener = server.listen(80)
    conn = client.connect((SERVER, 80))
    peer = listener.accept()
    conn.sendall(b"pinned bytes")
    view = peer.recv_view(timeout=5)
    assert bytes(view) == b"pinned bytes"
    peer.consume(len(view))
    assert peer.readable == 0
    assert _slots(server) == 1                      # consumed, but still viewed
    conn.sendall(b"more")
    _settle(server)
    assert bytes(view) == b"pinned bytes"           # new data does not overwrite it
    assert peer.recv(10, timeout=5) == b"more"
    assert _slots(server) == 1
    view.release()
    assert _slots(server) == 0
    for c in (conn, peer, listener):
        c.close()


def test_window_memory_refuses_connect_with_enobufs(vclock):
    server, client = _pair(vclock, client_opts=dict(window_memory=2 * WIN))
    try:
        listener = server.listen(80, backlog=8)
        conn = client.connect((SERVER, 80))
        peer = listener.accept()
        peer.sendall(b"unread")                     # the client's receive window fills
        _settle(server)
        assert client.stats()["window_bytes_in_use"] == WIN
        before = client.stats()["tcp_window_arena_full"]
        with pytest.raises(OSError) as e:
            client.connect((SERVER, 80), timeout=5)
        assert e.value.errno == errno.ENOBUFS
        assert "window_memory" in str(e.value)
        assert client.stats()["tcp_window_arena_full"] == before + 1
        # reading the bytes gives the window back: connections are admitted again
        assert conn.recv(10) == b"unread"
        conn2 = client.connect((SERVER, 80), timeout=5)
        peer2 = listener.accept(timeout=5)
        conn2.sendall(b"ok")
        assert peer2.recv(2, timeout=5) == b"ok"
        for c in (conn, peer, conn2, peer2, listener):
            c.close()
    finally:
        client.close()
        server.close()


def test_window_memory_resets_incoming_syn(vclock):
    server, client = _pair(vclock, server_opts=dict(window_memory=2 * WIN))
    try:
        listener = server.listen(80, backlog=8)
        conn = client.connect((SERVER, 80))
        peer = listener.accept()
        conn.sendall(b"unread")                     # the server's receive window fills
        _settle(server)
        assert server.stats()["window_bytes_in_use"] == WIN
        t0 = vclock.now()
        with pytest.raises(ConnectionRefusedError):
            client.connect((SERVER, 80), timeout=30)
        assert vclock.now() - t0 < 100_000_000       # at once, not after SYN retries
        assert server.stats()["tcp_window_arena_full"] >= 1
        for c in (conn, peer, listener):
            c.close()
    finally:
        client.close()
        server.close()


def test_data_beyond_window_memory_is_dropped_then_retransmitted(vclock):
    """Admitted connections may later find the memory taken: their data is
    dropped (counted, never advertised-then-refused) and arrives by
    retransmission once memory is free."""
    server, client = _pair(vclock, server_opts=dict(window_memory=2 * WIN))
    try:
        listener = server.listen(80, backlog=8)
        pairs = []
        for _ in range(3):
            c = client.connect((SERVER, 80))
            pairs.append((c, listener.accept()))
        for i, (c, _) in enumerate(pairs):
            c.sendall(b"conn%d" % i)
        _settle(server)
        st = server.stats()
        assert st["window_slots_in_use"] == 2 and st["tcp_window_arena_full"] >= 1
        assert pairs[2][1].readable == 0
        assert pairs[0][1].recv(10) == b"conn0"     # frees a slot
        assert pairs[2][1].recv(10, timeout=30) == b"conn2"     # after an RTO
        assert pairs[1][1].recv(10) == b"conn1"
        for c, p in pairs:
            c.close()
            p.close()
        listener.close()
    finally:
        client.close()
        server.close()


def test_window_memory_is_checked(vclock):
    with pytest.raises(ValueError, match="window_memory"):
        netchan.Stack(f"pair:{unique('wm')}", ip=f"{SERVER}/15", clock=vclock,
                      rcvbuf=WIN, sndbuf=WIN, window_memory=WIN)
    with pytest.raises(TypeError, match="window_memory"):
        netchan.Stack(f"pair:{unique('wm')}", ip=f"{SERVER}/15", clock=vclock,
                      window_memory=1.5)


def test_windows_beyond_the_process_map_budget_are_refused_with_enobufs(lazy_pair):
    """Each attached window slot is one memory map: the slots of every arena
    in the process share vm.max_map_count's budget, and a slot beyond it is
    refused with ENOBUFS saying so (a counter, nothing else breaks); a slot
    given back is reused without mapping another."""
    from netchan import _testing
    server, client = lazy_pair
    listener = server.listen(80, backlog=8)
    conns = [client.connect((SERVER, 80), timeout=5) for _ in range(3)]
    peers = [listener.accept(timeout=5) for _ in conns]
    budget, mapped = _testing.window_map_budget()
    assert budget > 1024
    try:
        _testing.window_map_budget(mapped + 2)
        conns[0].send(b"a")
        conns[1].send(b"b")
        with pytest.raises(OSError) as err:
            conns[2].send(b"c")
        assert err.value.errno == errno.ENOBUFS
        assert "vm.max_map_count" in str(err.value)
        assert client.stats()["window_map_budget_refusals"] == 1
        # room for the server's two receive windows (both stacks are in this
        # process and share its budget); once the first connection's bytes
        # are read and acknowledged its slots are given back, and the third
        # send takes one (no new map)
        _testing.window_map_budget(mapped + 4)
        assert peers[0].recv(1, timeout=5) == b"a"
        _settle(server)
        _settle(client)
        conns[2].send(b"c")
        assert peers[2].recv(1, timeout=5) == b"c"
        assert _testing.window_map_budget()[1] == mapped + 4
    finally:
        _testing.window_map_budget(0)
    for c in conns + peers + [listener]:
        c.close()
