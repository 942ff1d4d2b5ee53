"""python -m netchan.demo (the program docker/compose.yaml runs): an echo
server and a client that checks SHA-256 of what comes back, as two real
processes over a shm link, and over afpacket:eth0 in a namespace testbed."""
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

import netchan
from netchan import demo
from netchan.demo import parse_size

from conftest import require_root, unique
from helpers import wait_for_line

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(netchan.__file__)))


def demo_argv(*args):
    return [sys.executable, "-m", "netchan.demo", *args]


def start(argv, prefix=None):
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    if prefix:
        argv = prefix + argv
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


def finish(proc, timeout=60):
    """Wait for proc and return its output; kill it at the deadline and fail
    with what it printed."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"{proc.args} still running after {timeout} s; output: {out!r}")
    return out


def stop(proc):
    """Cleanup: end proc (by its pid) if it still runs. SIGINT first, so
    that its stack closes and removes its shm link; SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.communicate()


def test_parse_size():
    assert parse_size("4096") == 4096
    assert parse_size("64K") == 64 << 10
    assert parse_size("16M") == 16 << 20
    assert parse_size("1GiB") == 1 << 30


def test_echo_over_shm_with_loss():
    link = unique("demo")
    server = start(demo_argv("server", "--port", f"shm:{link}", "--connections", "1"))
    try:
        wait_for_line(server, "listening on TCP")
        # 1% loss on the client's side, seeded: the echo still arrives intact
        client = start(demo_argv("client", "--port", f"shm:{link}?loss=0.01&seed=5",
                                 "--server", "198.18.1.1", "--bytes", "512K"))
        out = finish(client)
        assert client.returncode == 0, out
        assert "ok: 524288 bytes echoed intact" in out
        out = finish(server)
        assert server.returncode == 0, out
        assert "echoed 524288 bytes to 198.18.1.2" in out
    finally:
        stop(server)


def test_client_waits_for_a_late_server():
    link = unique("demo")
    client = start(demo_argv("client", "--port", f"shm:{link}", "--server", "198.18.1.1",
                             "--bytes", "64K", "--connect-timeout", "60"))
    server = None
    try:
        wait_for_line(client, "retrying", timeout=60)
        server = start(demo_argv("server", "--port", f"shm:{link}", "--connections", "1"))
        out = finish(client)
        assert client.returncode == 0, out
        assert "ok: 65536 bytes echoed intact" in out
        assert finish(server).count("echoed 65536 bytes") == 1
    finally:
        stop(client)
        if server is not None:
            stop(server)


def test_server_survives_a_reset_connection():
    """A connection reset by its client (as an abandoned connect attempt can
    be) is logged and not counted; the server goes on to the next one."""
    link = unique("demo")
    server = start(demo_argv("server", "--port", f"shm:{link}", "--connections", "1"))
    try:
        wait_for_line(server, "listening on TCP")
        with netchan.Stack(f"shm:{link}", ip="198.18.1.3/15") as rude:
            conn = rude.connect(("198.18.1.1", demo.DEFAULT_TCP_PORT), timeout=30)
            conn.sendall(b"x" * 1000)
            got = b""
            while len(got) < 1000:      # the echo: the server is inside this connection
                got += conn.recv(1000, timeout=30)
            conn.abort()                # RST
        wait_for_line(server, "failed after")
        client = start(demo_argv("client", "--port", f"shm:{link}", "--server", "198.18.1.1",
                                 "--bytes", "64K"))
        out = finish(client)
        assert client.returncode == 0, out
        out = finish(server)
        assert server.returncode == 0 and "echoed 65536 bytes" in out, out
    finally:
        stop(server)


def test_bad_port_is_a_usage_error():
    r = subprocess.run(demo_argv("server", "--port", "nonsense"), capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=PACKAGE_DIR), timeout=60)
    assert r.returncode == 2 and "KIND:TARGET" in r.stderr


def test_kernel_client_against_a_kernel_echo_server():
    """--kernel mode (the compose file's kernel-client) on loopback."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    echoed = []

    def echo_once():
        conn, _ = listener.accept()
        with conn:
            total = 0
            while data := conn.recv(65536):
                conn.sendall(data)
                total += len(data)
            echoed.append(total)

    server = threading.Thread(target=echo_once, daemon=True)
    server.start()
    try:
        r = subprocess.run(demo_argv("client", "--kernel", "--server", "127.0.0.1", "--tcp-port",
                                     str(port), "--bytes", "1M"), capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=PACKAGE_DIR), timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ok: 1048576 bytes echoed intact" in r.stdout
        server.join(timeout=10)
        assert echoed == [1 << 20]
    finally:
        listener.close()


def test_client_needs_port_or_kernel():
    env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
    for extra in ([], ["--kernel", "--port", "shm:x"]):
        r = subprocess.run(demo_argv("client", "--server", "198.18.1.1", *extra),
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 2 and "exactly one of --port" in r.stderr


@pytest.mark.root
def test_echo_over_afpacket_in_a_testbed():
    """What docker/compose.yaml does, with namespaces instead of containers:
    netchan on 198.18.1.I over afpacket:eth0, the kernel on 198.18.0.I."""
    require_root()
    from netchan.testbed import Testbed
    try:
        netchan.open_port(netchan.parse_port_uri("afpacket:lo")).close()
    except NotImplementedError as e:
        pytest.skip(f"the afpacket port is not built into this tree yet: {e}")
    except OSError:
        pass                    # it exists; lo was just not a usable interface
    with Testbed(unique("demo")).up(hosts=2, offload=False) as tb:
        ns = ["ip", "netns", "exec"]
        server = start(demo_argv("server", "--port", "afpacket:eth0", "--ip", "198.18.1.1/15",
                                 "--connections", "2"), prefix=ns + [tb.host_netns(1)])
        try:
            wait_for_line(server, "listening on TCP")
            client = start(demo_argv("client", "--port", "afpacket:eth0", "--ip", "198.18.1.2/15",
                                     "--server", "198.18.1.1", "--bytes", "4M"),
                           prefix=ns + [tb.host_netns(2)])
            out = finish(client, timeout=120)
            assert client.returncode == 0, out
            assert "ok: 4194304 bytes echoed intact" in out
            # and from the Linux kernel's TCP on h2 (198.18.0.2) to netchan on h1
            kernel = start(demo_argv("client", "--kernel", "--server", "198.18.1.1",
                                     "--bytes", "4M", "--connect-timeout", "20"),
                           prefix=ns + [tb.host_netns(2)])
            out = finish(kernel, timeout=120)
            assert kernel.returncode == 0, out
            assert "ok: 4194304 bytes echoed intact" in out
            assert server.wait(timeout=30) == 0
        finally:
            stop(server)
