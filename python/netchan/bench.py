"""`netchan bench`: netchan and the kernel's TCP side by side, in one run.

    netchan bench stream --time 10

runs a bulk TCP transfer between two processes over a shm link (server
198.18.0.1, client 198.18.0.2), then the same transfer over kernel loopback
TCP (stock `iperf3 -l 1M` when installed, else Python sockets, labelled as
such), and prints Gbit/s and CPU seconds per GB for each side and the ratio.

Each side runs in its own process (`python -m netchan.bench server|client`)
and reports one JSON line; the parent only starts, waits and prints.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time

SERVER_IP = "198.18.0.1/15"
CLIENT_IP = "198.18.0.2/15"
SERVER_ADDR = "198.18.0.1"
BENCH_PORT = 5201


class BenchError(RuntimeError):
    """A benchmark process failed: the message says which and why."""


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _report(**kw):
    print(json.dumps(kw), flush=True)


# ---- the two netchan processes ---------------------------------------------------

def run_server(uri, mtu, window, zero_copy):
    import netchan
    kw = {} if window is None else {"rcvbuf": window, "sndbuf": window}
    with netchan.Stack(uri, ip=SERVER_IP, mtu=mtu, **kw) as stack:
        listener = stack.listen(BENCH_PORT)
        print("READY", flush=True)
        conn = listener.accept(timeout=60)
        total = 0
        first = None
        u0, s0 = _cpu()
        buf = bytearray(1 << 20)
        while True:
            if zero_copy:
                view = conn.recv_view()
                n = len(view)
                view.release()
                if n:
                    conn.consume(n)
            else:
                n = conn.recv_into(buf)
            if n == 0:
                break
            if first is None:
                first = time.perf_counter()
                u0, s0 = _cpu()
            total += n
        end = time.perf_counter()
        u1, s1 = _cpu()
        conn.close()
        stats = stack.stats()
        _report(role="server", bytes=total, seconds=end - (first or end), cpu_user=u1 - u0,
                cpu_sys=s1 - s0, retransmits=stats["tcp_retransmits"],
                ooo=stats["tcp_ooo_segments"])


def run_client(uri, mtu, window, zero_copy, seconds, write_size):
    import netchan
    kw = {} if window is None else {"rcvbuf": window, "sndbuf": window}
    with netchan.Stack(uri, ip=CLIENT_IP, mtu=mtu, **kw) as stack:
        deadline = time.monotonic() + 10
        while not stack.port.link_up:
            stack.poll(0.01)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{uri}: the server end never attached")
        conn = stack.connect((SERVER_ADDR, BENCH_PORT), timeout=10)
        payload = bytes(range(256)) * (write_size // 256 + 1)
        payload = memoryview(payload)[:write_size]
        sent = 0
        u0, s0 = _cpu()
        start = time.perf_counter()
        end_at = start + seconds
        check = 0
        while True:
            if zero_copy:
                view = conn.send_view()
                n = min(len(view), write_size)
                view.release()
                conn.commit(n)
            else:
                conn.sendall(payload)
                n = write_size
            sent += n
            check += 1
            if check & 15 == 0 and time.perf_counter() >= end_at:
                break
        conn.shutdown(socket.SHUT_WR)
        # wait until the server has everything (its FIN arrives after EOF)
        while conn.recv(1 << 16):
            pass
        end = time.perf_counter()
        u1, s1 = _cpu()
        conn.close()
        _report(role="client", bytes=sent, seconds=end - start, cpu_user=u1 - u0, cpu_sys=s1 - s0)


# ---- kernel baselines ---------------------------------------------------------------

def run_py_server(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("READY", flush=True)
    c, _ = ls.accept()
    buf = bytearray(1 << 20)
    total = 0
    first = None
    u0, s0 = _cpu()
    while True:
        n = c.recv_into(buf)
        if n == 0:
            break
        if first is None:
            first = time.perf_counter()
            u0, s0 = _cpu()
        total += n
    end = time.perf_counter()
    u1, s1 = _cpu()
    c.close()
    _report(role="server", bytes=total, seconds=end - (first or end), cpu_user=u1 - u0, cpu_sys=s1 - s0)


def run_py_client(port, seconds, write_size):
    c = socket.create_connection(("127.0.0.1", port))
    payload = bytes(range(256)) * (write_size // 256 + 1)
    payload = memoryview(payload)[:write_size]
    sent = 0
    u0, s0 = _cpu()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        c.sendall(payload)
        sent += write_size
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    end = time.perf_counter()
    u1, s1 = _cpu()
    c.close()
    _report(role="client", bytes=sent, seconds=end - start, cpu_user=u1 - u0, cpu_sys=s1 - s0)


def _free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_listening(port, proc, timeout=10.0):
    """Until a socket listens on 127.0.0.1:port (read from /proc/net/tcp, so
    that no probe connection disturbs a one-shot server)."""
    want = f"0100007F:{port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited ({proc.returncode})")
        with open("/proc/net/tcp") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[1] == want and parts[3] == "0A":
                    return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _spawn(args):
    # stderr is read by the parent: a child's error becomes one line of ours
    return subprocess.Popen([sys.executable, "-m", "netchan.bench", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _why(proc) -> str:
    """The last line a finished child wrote on stderr (its error)."""
    try:
        err = proc.stderr.read() if proc.stderr else ""
    except (OSError, ValueError):
        err = ""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _wait_ready(proc, what):
    line = proc.stdout.readline()
    if line.strip() != "READY":
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise BenchError(f"{what} did not start: {_why(proc)}")


def _result(proc, what, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise BenchError(f"{what} did not finish in {timeout:.0f} s")
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
        raise BenchError(f"{what} failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"{what} printed no result")


def _summary(label, server, client):
    nbytes = server["bytes"]
    secs = server["seconds"] or 1e-9
    gb = nbytes / 1e9 or 1e-9
    return {
        "label": label,
        "bytes": nbytes,
        "seconds": secs,
        "gbit_s": nbytes * 8 / secs / 1e9,
        "server_cpu_s_per_gb": (server["cpu_user"] + server["cpu_sys"]) / gb,
        "client_cpu_s_per_gb": (client["cpu_user"] + client["cpu_sys"]) / gb,
        "extra": {k: v for k, v in server.items() if k in ("retransmits", "ooo")},
    }


def bench_netchan(uri, mtu, window, zero_copy, seconds, write_size, client_uri=None):
    zc = int(bool(zero_copy))
    win = window or 0
    server = _spawn(["server", uri, mtu, win, zc])
    try:
        _wait_ready(server, "netchan server")
        client = _spawn(["client", client_uri or uri, mtu, win, zc, seconds, write_size])
        c = _result(client, "netchan client", seconds + 60)
        s = _result(server, "netchan server", 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    mode = "zero-copy views" if zero_copy else "recv_into/sendall"
    return _summary(f"netchan {uri.split('?')[0]} (MTU {mtu}, {mode})", s, c)


def bench_kernel_iperf3(seconds):
    port = _free_tcp_port()
    srv = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port), "-B", "127.0.0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, srv)
        out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-l", "1M",
                              "-t", str(seconds), "-J"], capture_output=True, text=True,
                             timeout=seconds + 60)
        if out.returncode != 0:
            raise BenchError(f"iperf3 client failed: {out.stderr.strip() or out.stdout[-300:]}")
        j = json.loads(out.stdout)
    finally:
        if srv.poll() is None:
            srv.terminate()
            try:
                srv.wait(5)
            except subprocess.TimeoutExpired:
                srv.kill()
    end = j["end"]
    recv = end["sum_received"]
    nbytes = recv["bytes"]
    secs = recv["seconds"]
    cpu = end["cpu_utilization_percent"]
    gb = nbytes / 1e9
    sent_secs = end["sum_sent"]["seconds"]
    return {
        "label": "kernel loopback TCP (iperf3 -l 1M)",
        "bytes": nbytes,
        "seconds": secs,
        "gbit_s": recv["bits_per_second"] / 1e9,
        # iperf3 reports CPU as percent of one core over the test
        "client_cpu_s_per_gb": cpu["host_total"] / 100 * sent_secs / gb,
        "server_cpu_s_per_gb": cpu["remote_total"] / 100 * secs / gb,
        "extra": {"retransmits": end["sum_sent"].get("retransmits")},
    }


def bench_kernel_python(seconds, write_size):
    port = _free_tcp_port()
    server = _spawn(["pyserver", port])
    try:
        _wait_ready(server, "kernel Python server")
        client = _spawn(["pyclient", port, seconds, write_size])
        c = _result(client, "kernel Python client", seconds + 60)
        s = _result(server, "kernel Python server", 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    return _summary(f"kernel loopback TCP (Python sockets, {write_size >> 10} KiB writes)", s, c)


def _line(r):
    return (f"{r['label']:<58} {r['gbit_s']:7.2f} Gbit/s   CPU s/GB: "
            f"client {r['client_cpu_s_per_gb']:.3f}  server {r['server_cpu_s_per_gb']:.3f}")


def main(args) -> int:
    try:
        return _main(args)
    except BenchError as e:
        print(f"netchan bench: {e}", file=sys.stderr)
        return 1


def _main(args) -> int:
    from netchan.config import check_buffer
    from netchan.uri import parse_port_uri
    uri = args.server_port or args.port or f"shm:bench-{os.getpid()}"
    client_uri = args.client_port or args.port or uri
    if (args.server_port is None) != (args.client_port is None):
        raise ValueError("give both --server-port and --client-port, or neither")
    # everything the two processes would refuse, refused here in one line
    for u in {uri, client_uri}:
        parse_port_uri(u)
    if args.window is not None:
        check_buffer(args.window, "--window")
    results = []
    nc = bench_netchan(uri, args.mtu, args.window, args.zero_copy, args.time, args.write_size,
                       client_uri)
    results.append(nc)
    if not args.json:
        print(_line(nc), flush=True)
    kernel = None
    choice = args.kernel
    if choice == "auto":
        choice = "iperf3" if shutil.which("iperf3") else "python"
    if choice == "iperf3":
        kernel = bench_kernel_iperf3(args.time)
    elif choice == "python":
        kernel = bench_kernel_python(args.time, args.write_size)
    if kernel is not None:
        results.append(kernel)
        if not args.json:
            print(_line(kernel))
    ratio = nc["gbit_s"] / kernel["gbit_s"] if kernel and kernel["gbit_s"] else None
    if args.json:
        print(json.dumps({"results": results, "ratio": ratio}, indent=2))
    elif ratio is not None:
        print(f"ratio netchan/kernel: {ratio:.2f}x throughput")
    return 0


ROLES = ("server", "client", "pyserver", "pyclient")
CHILD_USAGE = """usage: python -m netchan.bench ROLE ARGS...

This module is the worker that `netchan bench stream` starts, one process per
end (roles: server, client, pyserver, pyclient). To run the benchmark:

    netchan bench stream --time 10          (options: netchan bench stream --help)

By hand (what the command runs; 0 = default window, 1 = zero-copy API):
    python -m netchan.bench server URI MTU WINDOW ZERO_COPY
    python -m netchan.bench client URI MTU WINDOW ZERO_COPY SECONDS WRITE_SIZE
    python -m netchan.bench pyserver TCP_PORT
    python -m netchan.bench pyclient TCP_PORT SECONDS WRITE_SIZE"""


def _child(argv) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(CHILD_USAGE)
        return 0 if argv else 2
    role = argv[0]
    if role not in ROLES:
        print(f"python -m netchan.bench: unknown role {role!r} (one of {', '.join(ROLES)}); "
              f"to run the benchmark: netchan bench stream --help", file=sys.stderr)
        return 2
    try:
        _run_role(role, argv)
    except (IndexError, ValueError, OSError) as e:
        # one line on stderr: the parent repeats it as its own error
        print(f"netchan bench {role}: {e}", file=sys.stderr)
        return 2 if isinstance(e, (IndexError, ValueError)) else 1
    return 0


def _run_role(role, argv):
    if role == "server":
        uri, mtu, win, zc = argv[1], int(argv[2]), int(argv[3]) or None, bool(int(argv[4]))
        run_server(uri, mtu, win, zc)
    elif role == "client":
        uri, mtu, win, zc = argv[1], int(argv[2]), int(argv[3]) or None, bool(int(argv[4]))
        run_client(uri, mtu, win, zc, float(argv[5]), int(argv[6]))
    elif role == "pyserver":
        run_py_server(int(argv[1]))
    elif role == "pyclient":
        run_py_client(int(argv[1]), float(argv[2]), int(argv[3]))


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
