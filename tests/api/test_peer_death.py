"""A shm link whose other end dies: the survivor notices (link down within a
poll interval, its connections aborted with a clear error after the data
already received), and a restarted peer re-attaches to the surviving end
without restarting it."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import netchan
from conftest import SERVER_IP, unique
from helpers import python_env, wait_until

CLIENT = textwrap.dedent("""
    import sys, netchan
    uri, ip, msg = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    stack = netchan.Stack(uri, ip=ip + "/15")
    conn = stack.connect((sys.argv[4], 8080), timeout=10)
    conn.sendall(msg)
    print("SENT", flush=True)
    if sys.argv[5] == "hang":
        sys.stdin.read()                  # killed here, connection open
    else:
        print(conn.recv(100).decode(), flush=True)
        conn.close()
        stack.close()
""")


def _client(uri, msg, mode):
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, uri, "198.18.0.2", msg, SERVER_IP,
                             mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=python_env())
    return proc


def test_survivor_sees_the_death_and_a_restarted_peer_reattaches():
    uri = f"shm:{unique('death')}"
    with netchan.Stack(uri, ip=f"{SERVER_IP}/15", background=True) as stack:
        listener = stack.listen(8080)
        first = _client(uri, "before", "hang")
        try:
            conn = listener.accept(timeout=10)
            assert first.stdout.readline().strip() == "SENT"
            # sendall returns once the bytes are queued: kill only when they
            # have arrived (the background thread receives them)
            wait_until(lambda: conn.readable >= len(b"before"))
            first.send_signal(signal.SIGKILL)
            first.wait()
            # the survivor's link goes down within a poll interval (100 ms)
            wait_until(lambda: not stack.port.link_up, timeout=1.0)
            wait_until(lambda: stack.stats()["link_peer_lost"] == 1)
            # the data that arrived is still read; then a clear error
            assert conn.recv(100, timeout=5) == b"before"
            with pytest.raises(ConnectionAbortedError, match="is gone .its process died"):
                conn.recv(100, timeout=5)
            conn.close()
        finally:
            first.kill()
        # a new client process takes the dead end's place
        second = _client(uri, "after", "echo")
        try:
            conn = listener.accept(timeout=10)
            assert conn.recv(100, timeout=5) == b"after"
            conn.sendall(b"welcome back")
            assert second.stdout.readline().strip() == "SENT"
            assert second.stdout.readline().strip() == "welcome back"
            assert second.wait(timeout=10) == 0
            conn.close()
        finally:
            second.kill()


def test_a_program_that_exits_without_closing_leaves_no_files():
    name = unique("noclose")
    code = ("import sys, os, netchan\n"
            "s = netchan.Stack(sys.argv[1], ip='198.18.0.1/15')\n"
            "print(os.getpid(), s.stats_path, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code, f"shm:{name}"], capture_output=True,
                         text=True, env=python_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    pid, stats_path = out.stdout.split()
    assert stats_path.startswith("/dev/shm/netchan-stats.")
    assert not os.path.exists(stats_path)
    assert not os.path.exists(f"/dev/shm/netchan-link-{name}")
