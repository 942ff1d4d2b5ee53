"""The shortest end-to-end checks: if these fail, look here first."""
import netchan


def test_import_and_flags():
    assert isinstance(netchan.HAS_DPDK, bool)
    assert len(netchan.COUNTER_NAMES) > 10


def test_pair_handshake_transfer_close(pair, vclock):
    server, client = pair
    listener = server.listen(80)
    conn = client.connect(("198.18.0.1", 80))
    peer = listener.accept()
    assert conn.state == peer.state == "ESTABLISHED"
    conn.sendall(b"hello")
    assert peer.recv(100) == b"hello"
    peer.sendall(b"world")
    assert conn.recv(100) == b"world"
    conn.close()
    assert peer.recv(100) == b""
    peer.close()
    # TIME_WAIT (2 x MSL = 60 s by default) passes on the virtual clock, in
    # a record: the client's control block is gone once its last ACK is out
    start = vclock.now()
    server.run_until(lambda: server.n_connections == 0 and client.n_connections == 0, timeout=5)
    assert client.stats()["time_wait"] == 1
    server.run_until(lambda: client.stats()["time_wait"] == 0, timeout=300)
    assert 60e9 <= vclock.now() - start < 70e9
