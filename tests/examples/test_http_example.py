"""examples/http_server.py and examples/echo_server.py, run as a user runs
them: a server process, stock curl and wrk (or a netchan.aio client in this
process) as clients. Over a shm link (no root), on kernel sockets over
loopback (the --kernel mode), and over afpacket:eth0 in a testbed host with
the Linux kernel of the other host as client (root)."""
import asyncio
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

import netchan
import netchan.aio

from conftest import require, require_root, unique
from helpers import python_env, wait_for_line

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")
HTTP_SERVER = os.path.join(EXAMPLES, "http_server.py")
ECHO_SERVER = os.path.join(EXAMPLES, "echo_server.py")



@pytest.fixture(autouse=True)
def _httptools():
    require(importlib.util.find_spec("httptools") is not None,
            "needs httptools (pip install -e '.[test]')")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _load("bench_http")


def start(argv, prefix=()):
    return subprocess.Popen([*prefix, sys.executable, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=python_env())


def stop(proc, timeout=20):
    """SIGINT (the examples shut down cleanly on it) and the rest of the
    output (bench_http.stop_server: SIGKILL and an error if it lingers);
    the example must exit 0."""
    out = bench.stop_server(proc, timeout)
    assert proc.returncode == 0, out
    return out


def served(out):
    m = re.search(r"served (\d+) requests on (\d+) connections", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(tool):
    require(shutil.which(tool) is not None, f"needs {tool} (ci/install-deps.sh installs it)")


def curl_keepalive(url, prefix=()):
    """Two URLs in one curl: the second must go over the first's connection."""
    r = subprocess.run([*prefix, "curl", "-sv", "--max-time", "20", "--retry", "3",
                        "--retry-connrefused", url, url + "bytes/100000"],
                       capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 0, err
    assert r.stdout == b"hello\n" + b"x" * 100000
    assert re.search(r"Re-using existing connection|Reusing existing connection", err), err
    assert err.count("Connected to") == 1, err
    return err


def run_wrk(url, prefix=(), connections=20, duration=2):
    r = subprocess.run([*prefix, "wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
                        url], capture_output=True, text=True, timeout=duration + 60)
    assert r.returncode == 0, r.stdout + r.stderr
    res = bench.parse_wrk(r.stdout)
    assert res["requests"] > 0, r.stdout
    assert res["socket_errors"] == {"connect": 0, "read": 0, "write": 0, "timeout": 0}, r.stdout
    assert res["non_2xx"] == 0, r.stdout
    return res


# ---- the parts on their own -----------------------------------------------------------

def test_parse_wrk():
    out = """Running 2s test @ http://127.0.0.1:8080/
  2 threads and 20 connections
  Latency Distribution
     50%  299.00us
     75%    1.18ms
     90%    3.20ms
     99%    1.05s
  76913 requests in 2.01s, 6.97MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  38270.87
"""
    r = bench.parse_wrk(out)
    assert r["requests"] == 76913 and r["requests_per_s"] == 38270.87
    assert r["p50"] == pytest.approx(299e-6) and r["p99"] == pytest.approx(1.05)
    assert r["socket_errors"] == {"connect": 0, "read": 3, "write": 0, "timeout": 1}
    assert r["non_2xx"] == 7


def test_answers():
    http = _load("http_server")
    assert http.answer(b"GET", b"/", True).endswith(b"Content-Length: 6\r\n\r\nhello\n")
    close = http.answer(b"GET", b"/?q=1", False)
    assert b"Connection: close\r\n" in close and close.endswith(b"hello\n")
    big = http.answer(b"GET", b"/bytes/3000000", True)
    assert b"Content-Length: 3000000\r\n" in big and big.endswith(b"\r\n\r\n" + b"x" * 3000000)
    head = http.answer(b"HEAD", b"/bytes/10", True)
    assert b"Content-Length: 10\r\n" in head and head.endswith(b"\r\n\r\n")
    assert http.answer(b"GET", b"/nope", True).startswith(b"HTTP/1.1 404 ")
    assert http.answer(b"GET", b"/bytes/-1", True).startswith(b"HTTP/1.1 400 ")
    assert http.answer(b"POST", b"/", True).startswith(b"HTTP/1.1 405 ")


def test_usage_errors():
    for args in ([], ["--link", "shm:x", "--kernel"], ["--kernel", "--port", "0"]):
        r = subprocess.run([sys.executable, HTTP_SERVER, *args], capture_output=True, text=True,
                           env=python_env(), timeout=60)
        assert r.returncode == 2, (args, r.stdout, r.stderr)


# ---- netchan over shm, a netchan.aio client in this process -----------------------------

REQUESTS = (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /bytes/300000 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"HEAD /bytes/5 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")


async def _http_client(stack, n_clients):
    """n_clients connections at once; each sends REQUESTS pipelined, then,
    after reading the four answers, one with Connection: close; the server
    must close after it."""
    async def one():
        reader, writer = await netchan.aio.open_connection(stack, "198.18.1.1", 8080)
        writer.write(REQUESTS)
        heads = []
        for length in (6, 300000, 0, 10):
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"Content-Length: %d\r\n" % (length if length else 5) in head, head
            body = await reader.readexactly(length)
            heads.append(head.split(b"\r\n", 1)[0])
            if length == 6:
                assert body == b"hello\n"
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rest = await reader.read()                    # until the server's FIN
        assert rest.endswith(b"\r\n\r\nhello\n") and b"Connection: close\r\n" in rest, rest
        writer.close()
        await writer.wait_closed()
        return heads

    results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n_clients))), 60)
    for heads in results:
        assert heads == [b"HTTP/1.1 200 OK"] * 3 + [b"HTTP/1.1 404 Not Found"]


def test_http_over_shm_with_netchan_aio_clients():
    link = unique("http")
    server = start([HTTP_SERVER, "--link", f"shm:{link}", "--ip", "198.18.1.1/15",
                    "--port", "8080", "--stats"])
    try:
        wait_for_line(server, "listening on")
        with netchan.Stack(f"shm:{link}", ip="198.18.1.2/15") as client:
            asyncio.run(_http_client(client, 30))
    finally:
        out = stop(server)
    assert served(out) == (30 * 5, 30), out
    assert '"tcp_passive_opens": 30' in out, out


def test_echo_over_shm():
    link = unique("echo")
    server = start([ECHO_SERVER, "--link", f"shm:{link}", "--ip", "198.18.1.1/15",
                    "--port", "7", "--connections", "5"])

    async def clients(stack):
        async def one(i):
            reader, writer = await netchan.aio.open_connection(stack, "198.18.1.1", 7)
            data = bytes([i]) * (200000 + i)
            writer.write(data)
            writer.write_eof()
            got = await reader.read(-1)
            writer.close()
            await writer.wait_closed()
            return got == data
        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(5))), 60)

    try:
        wait_for_line(server, "listening on")
        with netchan.Stack(f"shm:{link}", ip="198.18.1.2/15") as client:
            assert asyncio.run(clients(client)) == [True] * 5
        out, _ = server.communicate(timeout=30)         # --connections 5: it ends by itself
        assert server.returncode == 0, out
    finally:
        if server.poll() is None:
            stop(server)
    assert f"echoed {5 * 200000 + 10} bytes on 5 connections" in out, out


# ---- the same application on kernel sockets (loopback) ----------------------------------

def test_kernel_mode_with_curl_and_wrk():
    need("curl")
    need("wrk")
    port = free_port()
    server = start([HTTP_SERVER, "--kernel", "--host", "127.0.0.1", "--port", str(port)])
    try:
        wait_for_line(server, "listening on")
        curl_keepalive(f"http://127.0.0.1:{port}/")
        res = run_wrk(f"http://127.0.0.1:{port}/")
    finally:
        out = stop(server)
    requests, conns = served(out)
    assert requests >= 2 + res["requests"] and conns >= 21, out


# ---- netchan on afpacket:eth0 in a testbed host, Linux clients in the other -------------

@pytest.fixture(scope="module")
def testbed():
    require_root()
    from netchan.testbed import Testbed
    try:
        netchan.open_port(netchan.parse_port_uri("afpacket:lo")).close()
    except NotImplementedError as e:
        pytest.skip(f"the afpacket port is not built into this tree: {e}")
    except OSError:
        pass
    with Testbed(unique("http")).up(hosts=2, offload=False) as tb:
        yield tb


@pytest.mark.root
def test_http_over_afpacket_with_curl_and_wrk(testbed):
    need("curl")
    need("wrk")
    h1 = ["ip", "netns", "exec", testbed.host_netns(1)]
    h2 = ["ip", "netns", "exec", testbed.host_netns(2)]
    server = start([HTTP_SERVER, "--link", "afpacket:eth0", "--ip", "198.18.1.1/15",
                    "--port", "8080", "--stats"], prefix=h1)
    try:
        wait_for_line(server, "listening on")
        curl_keepalive("http://198.18.1.1:8080/", prefix=h2)
        res = run_wrk("http://198.18.1.1:8080/", prefix=h2)
    finally:
        out = stop(server)
    requests, conns = served(out)
    # curl's one connection, wrk's 20 and the one wrk opens first to look at the server
    assert requests >= 2 + res["requests"], out
    assert 21 <= conns <= 22, out


@pytest.mark.root
def test_echo_over_afpacket_with_a_kernel_client(testbed):
    h1 = ["ip", "netns", "exec", testbed.host_netns(1)]
    h2 = ["ip", "netns", "exec", testbed.host_netns(2)]
    server = start([ECHO_SERVER, "--link", "afpacket:eth0", "--ip", "198.18.1.1/15",
                    "--port", "7"], prefix=h1)
    client = """if True:
        import socket, sys
        data = bytes(range(256)) * 4096            # 1 MiB
        for attempt in range(50):
            try:
                s = socket.create_connection(("198.18.1.1", 7), timeout=2)
                break
            except OSError:
                import time; time.sleep(0.1)
        s.settimeout(30)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        print("intact" if got == data else f"mismatch {len(got)}")
        """
    try:
        wait_for_line(server, "listening on")
        r = subprocess.run([*h2, sys.executable, "-c", client], capture_output=True, text=True,
                           timeout=90)
        assert r.stdout.strip() == "intact", r.stdout + r.stderr
    finally:
        out = stop(server)
    assert "echoed 1048576 bytes on 1 connections" in out, out
