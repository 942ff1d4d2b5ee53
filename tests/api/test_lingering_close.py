"""Stack.close() (and leaving `with`, and interpreter exit) closes as the
kernel does after close() and process exit: FIN after the queued data, the
stack kept running until it is acknowledged, bounded by `linger`; linger=0
resets. Nothing is lost that was passed to sendall."""
import hashlib
import subprocess
import sys
import textwrap

import pytest

import netchan
from conftest import CLIENT_IP, SERVER_IP, unique
from helpers import python_env

DATA = bytes(range(256)) * 8192                 # 2 MiB


def _pair(vclock, uri_extra="", **opts):
    name = unique("linger")
    a = netchan.Stack(f"pair:{name}{uri_extra}", ip=f"{SERVER_IP}/15", clock=vclock, seed=1,
                      **opts)
    b = netchan.Stack(f"pair:{name}", ip=f"{CLIENT_IP}/15", clock=vclock, seed=2, **opts)
    return a, b


def _read_all(conn):
    got = bytearray()
    while chunk := conn.recv(1 << 20, timeout=60):
        got += chunk
    return bytes(got)


@pytest.mark.parametrize("uri_extra", ["", "?loss=0.05&seed=3"])
def test_close_delivers_what_sendall_queued(vclock, uri_extra):
    # the receiver's window holds it all, so the sender's close can finish
    # while the receiving application is not reading yet
    a, b = _pair(vclock, uri_extra, rcvbuf=4 << 20, sndbuf=4 << 20)
    try:
        listener = a.listen(80)
        client = b.connect((SERVER_IP, 80), timeout=10)
        server = listener.accept(timeout=10)
        server.sendall(DATA)
        a.close()                               # no conn.close(): the stack's close does it
        assert a.stats()["tcp_close_linger_expired"] == 0
        assert _read_all(client) == DATA        # every byte, then EOF (not a reset)
    finally:
        b.close()
        a.close()


def test_linger_0_resets(vclock):
    a, b = _pair(vclock)
    try:
        listener = a.listen(80)
        client = b.connect((SERVER_IP, 80), timeout=10)
        server = listener.accept(timeout=10)     # held: a dropped handle would close with a FIN
        a.close(linger=0)
        with pytest.raises(ConnectionResetError):
            client.recv(100, timeout=10)
        del server
    finally:
        b.close()


def test_linger_expires_and_resets_what_is_unacknowledged(vclock):
    # the receiver never reads and its window is smaller than the data
    a, b = _pair(vclock, rcvbuf=65536)
    try:
        listener = a.listen(80)
        client = b.connect((SERVER_IP, 80), timeout=10)
        server = listener.accept(timeout=10)
        server.send(DATA, timeout=0)
        start = vclock.now_ns
        a.close(linger=3)
        assert 3e9 <= vclock.now_ns - start < 4e9       # waited the linger time, no more
        assert a.stats()["tcp_close_linger_expired"] == 1
        with pytest.raises(ConnectionResetError):
            while client.recv(1 << 20, timeout=10):
                pass
    finally:
        b.close()


def test_unaccepted_and_unread_connections_are_reset(vclock):
    a, b = _pair(vclock)
    try:
        listener = a.listen(80)
        unread = b.connect((SERVER_IP, 80), timeout=10)
        server = listener.accept(timeout=10)
        unread.sendall(b"nobody reads this")
        a.run_until(lambda: server.readable > 0, timeout=10)
        waiting = b.connect((SERVER_IP, 80), timeout=10)    # never accepted
        a.close()
        assert a.stats()["tcp_close_reset"] == 2
        for conn in (unread, waiting):
            with pytest.raises(ConnectionResetError):
                conn.recv(100, timeout=10)
    finally:
        b.close()


def test_bad_linger():
    with netchan.Stack(f"pair:{unique('bad')}", ip=f"{SERVER_IP}/15",
                       clock=netchan.VirtualClock()) as s:
        with pytest.raises(ValueError, match="linger"):
            s.close(linger=-1)


SENDER = textwrap.dedent("""
    import sys, netchan
    uri, size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = bytes(range(256)) * (size // 256)
    stack = netchan.Stack(uri, ip="198.18.0.2/15")
    conn = stack.connect(("198.18.0.1", 8080), timeout=10)
    conn.sendall(data)
    print("QUEUED", flush=True)
    if mode == "with":
        stack.close()           # as leaving `with` does
    # mode "exit": the interpreter's exit closes the stack
""")


@pytest.mark.parametrize("mode", ["with", "exit"])
def test_a_process_that_sends_and_leaves_loses_nothing(mode):
    size = 16 << 20
    uri = f"shm:{unique('leave')}"
    with netchan.Stack(uri, ip=f"{SERVER_IP}/15") as stack:
        listener = stack.listen(8080)
        proc = subprocess.Popen([sys.executable, "-c", SENDER, uri, str(size), mode],
                                stdout=subprocess.PIPE, text=True, env=python_env())
        try:
            conn = listener.accept(timeout=30)
            h = hashlib.sha256()
            n = 0
            while True:
                view = conn.recv_view(timeout=60)
                k = len(view)
                h.update(view)
                view.release()
                if k == 0:
                    break
                conn.consume(k)
                n += k
            assert n == size
            assert h.hexdigest() == hashlib.sha256(bytes(range(256)) * (size // 256)).hexdigest()
            assert proc.wait(timeout=60) == 0
            assert proc.stdout.read().strip() == "QUEUED"
            conn.close()
        finally:
            proc.kill()
