"""Connect-request-close per second: netchan over shm between two processes
against kernel sockets from Python over loopback, the same loop on both.

    PYTHONPATH=python python3 tests/tcp/crr_bench.py --seconds 10

Each connection: connect, a 64-byte request, a 64-byte response, close —
the server closes first on even connections, the client on odd ones, so
both sides keep TIME_WAITs (records on netchan). Prints one JSON line per
stack with connections/s and, for netchan, the TIME_WAIT counters of both
ends. A measurement, not a test (test_crr_bench.py only runs it briefly)."""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
import uuid

REQ = b"q" * 64
RESP = b"r" * 64
SERVER_IP, CLIENT_IP, PORT = "198.18.0.1", "198.18.0.2", 8080

NETCHAN_SERVER = """
import json, sys, netchan
uri, msl, busy_poll = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
with netchan.Stack(uri, ip="198.18.0.1/15", msl=msl, max_conns=256, busy_poll=busy_poll) as stack:
    listener = stack.listen(8080, backlog=128)
    print("READY", flush=True)
    i = 0
    while True:
        conn = listener.accept(timeout=30)
        req = conn.recv(64, timeout=30)
        if req == b"STOP":
            conn.close()
            break
        conn.sendall(b"r" * 64)
        if i % 2:
            conn.recv(64, timeout=30)          # the client closes first
        conn.close()
        i += 1
    s = stack.stats()
    print(json.dumps({k: v for k, v in s.items() if "time_wait" in k or k in (
        "tcp_conn_table_full", "tcp_timeouts")}), flush=True)
"""

KERNEL_SERVER = """
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(128)
print("READY", srv.getsockname()[1], flush=True)
i = 0
while True:
    conn, _ = srv.accept()
    req = conn.recv(64)
    if req == b"STOP":
        conn.close()
        break
    conn.sendall(b"r" * 64)
    if i % 2:
        conn.recv(64)
    conn.close()
    i += 1
"""


def _recv_exact(recv, n):
    got = b""
    while len(got) < n:
        chunk = recv(n - len(got))
        if not chunk:
            raise ConnectionError("short response")
        got += chunk
    return got


def _env():
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.path.join(here, "python") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_netchan(seconds, msl=30.0, busy_poll=50e-6):
    import netchan
    uri = f"shm:crr-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    server = subprocess.Popen([sys.executable, "-c", NETCHAN_SERVER, uri, str(msl), str(busy_poll)],
                              stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert server.stdout.readline().strip() == "READY"
        with netchan.Stack(uri, ip=f"{CLIENT_IP}/15", msl=msl, max_conns=256,
                           busy_poll=busy_poll) as stack:
            n = 0
            start = time.perf_counter()
            end = start + seconds
            while time.perf_counter() < end:
                c = stack.connect((SERVER_IP, PORT), timeout=10)
                c.sendall(REQ)
                _recv_exact(lambda k: c.recv(k, timeout=10), 64)
                if n % 2 == 0:
                    assert c.recv(64, timeout=10) == b""     # the server closed first
                c.close()
                n += 1
            elapsed = time.perf_counter() - start
            c = stack.connect((SERVER_IP, PORT), timeout=10)
            c.sendall(b"STOP")
            c.recv(64, timeout=10)
            c.close()
            client_stats = {k: v for k, v in stack.stats().items()
                            if "time_wait" in k or k in ("tcp_conn_table_full", "tcp_timeouts")}
        out, _ = server.communicate(timeout=60)
        server_stats = json.loads(out.strip().splitlines()[-1])
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return {"stack": f"netchan shm (busy_poll {busy_poll:g} s)", "connections": n, "seconds": round(elapsed, 3),
            "per_second": round(n / elapsed), "client": client_stats, "server": server_stats}


def run_kernel(seconds):
    server = subprocess.Popen([sys.executable, "-c", KERNEL_SERVER], stdout=subprocess.PIPE,
                              text=True)
    try:
        ready, port = server.stdout.readline().split()
        assert ready == "READY"
        addr = ("127.0.0.1", int(port))
        n = 0
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            c = socket.create_connection(addr)
            c.sendall(REQ)
            _recv_exact(c.recv, 64)
            if n % 2 == 0:
                assert c.recv(64) == b""
            c.close()
            n += 1
        elapsed = time.perf_counter() - start
        c = socket.create_connection(addr)
        c.sendall(b"STOP")
        c.recv(64)
        c.close()
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return {"stack": "kernel loopback", "connections": n, "seconds": round(elapsed, 3),
            "per_second": round(n / elapsed)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--stack", choices=("both", "netchan", "kernel"), default="both")
    ap.add_argument("--busy-poll", type=float, default=50e-6,
                    help="netchan's busy_poll on both ends, seconds (default the Stack's, 50e-6)")
    args = ap.parse_args(argv)
    results = []
    if args.stack in ("both", "netchan"):
        results.append(run_netchan(args.seconds, busy_poll=args.busy_poll))
    if args.stack in ("both", "kernel"):
        results.append(run_kernel(args.seconds))
    for r in results:
        print(json.dumps(r), flush=True)
    return results


if __name__ == "__main__":
    main()
