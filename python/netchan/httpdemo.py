"""A minimal HTTP/1.0 server and client on a netchan stack, for talking to
stock tools (curl, python3 -m http.server) over a real link.

    python3 -m netchan.httpdemo serve --port afpacket:veth1 --ip 198.18.0.2/15 \\
        --tcp-port 8080 --size 64M --seed 7
    curl -o body http://198.18.0.2:8080/

    python3 -m netchan.httpdemo fetch --port afpacket:veth1 --ip 198.18.0.2/15 \\
        --url http://198.18.0.1:8000/file

The server answers every GET with --size bytes of seeded pseudo-random data
(see body_bytes), so a client can check what it got
without the server sending a digest. Both print one line per event on
stdout, starting with "httpdemo:"; the server prints "httpdemo: listening"
once it can take connections, and both print "httpdemo: stats {json}" (the
stack's counters and the port's problems()) when they stop. fetch prints
"httpdemo: fetched N bytes sha256 HEX in S s". Exit status: 0 ok, 1 failure,
2 usage.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

from netchan.units import parse_size, size_arg


def _sha256(data=b""):
    import hashlib      # here, not at import: `netchan --help` stays light
    return hashlib.sha256(data)

def body_bytes(size: int, seed: int) -> bytes:
    """The body the server sends: what a client compares against (seeded
    random bytes, made 16 MiB at a time: randbytes takes at most 256 MiB)."""
    rng = random.Random(seed)
    step = 16 << 20
    return b"".join(rng.randbytes(min(step, size - off)) for off in range(0, size, step))


def _log(*parts):
    # one write per line: print() writes its parts one by one, and the
    # SIGTERM handler's own line could land between them
    sys.stdout.write(" ".join(["httpdemo:", *map(str, parts)]) + "\n")
    sys.stdout.flush()


def _stop_on_sigterm():
    # SIGTERM ends the run like Ctrl-C, so `with Stack` closes and stats print
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))


def _report(stack):
    stats = {k: v for k, v in stack.stats().items() if v}
    port = stack.port
    while port is not None and not hasattr(port, "problems"):
        port = port.inner
    stats["problems"] = port.problems() if port is not None else []
    _log("stats", json.dumps(stats, sort_keys=True))


def _stack_options(args):
    opts = {"msl": args.msl}
    if args.rto_min is not None:
        opts["rto_min"] = args.rto_min
    if args.window is not None:
        opts["rcvbuf"] = opts["sndbuf"] = args.window
    if args.ecn:
        opts["ecn"] = True
    return opts


def _read_request(conn, timeout):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536, timeout=timeout)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    return data.split(b"\r\n", 1)[0]


def _ips(text):
    """--ip 198.18.0.2/15 or, dual-stack, 198.18.0.2/15,2001:2::2/64."""
    return text.split(",") if "," in text else text


def serve(args) -> int:
    import netchan
    body = body_bytes(args.size, args.seed)
    header = (f"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
              f"Content-Length: {len(body)}\r\n\r\n").encode()
    served = 0
    with netchan.Stack(args.port, ip=_ips(args.ip), **_stack_options(args)) as stack:
        try:
            listener = stack.listen(args.tcp_port)
            shown = stack.ip or f"[{stack.addresses[0].split('/')[0]}]"     # IPv6 only
            _log(f"listening on {shown}:{args.tcp_port} mac {stack.mac} "
                 f"body {len(body)} bytes sha256 {_sha256(body).hexdigest()}")
            while args.connections == 0 or served < args.connections:
                conn = listener.accept()
                host, port = conn.getpeername()[:2]
                peer = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                try:
                    started = time.monotonic()
                    line = _read_request(conn, args.io_timeout)
                    if line is None:
                        _log(f"{peer}: no request")
                        conn.abort()
                        continue
                    conn.sendall(header)
                    if not line.startswith(b"HEAD "):
                        conn.sendall(body)
                    # HTTP/1.0: close after the body; wait for the client's
                    # close so everything queued is delivered and acked
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(65536, timeout=args.io_timeout):
                        pass
                    conn.close()
                    served += 1
                    secs = max(time.monotonic() - started, 1e-9)
                    _log(f"{peer}: {line.decode(errors='replace')} -> {len(body)} bytes in "
                         f"{secs:.3f} s ({len(body) * 8 / secs / 1e6:.1f} Mbit/s)")
                except OSError as e:
                    _log(f"{peer}: {e}")
                    conn.abort()
            listener.close()
        except KeyboardInterrupt:
            pass
        finally:
            _report(stack)
    return 0


def fetch(args) -> int:
    import netchan
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        raise ValueError(f"--url {args.url!r}: expected http://ADDRESS[:PORT]/PATH")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    digest = _sha256()
    total = 0
    with netchan.Stack(args.port, ip=_ips(args.ip), **_stack_options(args)) as stack:
        try:
            deadline = time.monotonic() + args.connect_timeout
            while True:
                try:
                    conn = stack.connect((url.hostname, url.port or 80), timeout=5)
                    break
                except (ConnectionRefusedError, TimeoutError) as e:
                    if time.monotonic() >= deadline:
                        raise
                    _log(f"connect: {e}; retrying")
                    stack.poll(0.2)
            started = time.monotonic()
            conn.sendall(f"GET {path} HTTP/1.0\r\nHost: {url.netloc}\r\n"
                         f"User-Agent: netchan-httpdemo\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536, timeout=args.io_timeout)
                if not chunk:
                    raise ConnectionError("the server closed before its headers ended")
                head += chunk
            head, rest = head.split(b"\r\n\r\n", 1)
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if status.split()[1:2] != ["200"]:
                _log(f"server answered {status!r}")
                return 1
            length = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            digest.update(rest)
            total = len(rest)
            while length is None or total < length:
                view = conn.recv_view(timeout=args.io_timeout)   # zero copy
                if not len(view):
                    break
                digest.update(view)
                total += len(view)
                n = len(view)
                view.release()
                conn.consume(n)
            secs = max(time.monotonic() - started, 1e-9)
            # HTTP/1.0: the server closes after the body; close after it and
            # stay until our FIN is acked, so neither side sees a reset
            extra = 0
            while chunk := conn.recv(65536, timeout=args.io_timeout):
                extra += len(chunk)
            conn.close()
            try:
                stack.run_until(lambda: stack.n_connections == 0, timeout=5)
            except TimeoutError:
                _log("the connection did not finish closing within 5 s")
            if extra or (length is not None and total != length):
                _log(f"body length wrong: {total + extra} bytes, Content-Length {length}")
                return 1
            _log(f"fetched {total} bytes sha256 {digest.hexdigest()} in {secs:.3f} s "
                 f"({total * 8 / secs / 1e6:.1f} Mbit/s)")
        finally:
            _report(stack)
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="python3 -m netchan.httpdemo",
                                description="HTTP/1.0 server and client on a netchan stack "
                                            "(also: netchan demo http)")
    add_commands(p)
    return p


def add_commands(p) -> None:
    """The serve and fetch sub-commands, on `p` (this module's own parser, or
    `netchan demo http`)."""
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("serve", "fetch"):
        c = sub.add_parser(name)
        c.add_argument("--port", required=True,
                       help="port URI, e.g. afpacket:veth1?pcap=/tmp/x.pcap&loss=0.02&seed=1")
        c.add_argument("--ip", required=True, help="this stack's address/prefix, e.g. 198.18.0.2/15, "
                       "or several, comma-separated: 198.18.0.2/15,2001:2::2/64")
        c.add_argument("--io-timeout", type=float, default=60.0,
                       help="seconds to wait for any progress (default 60)")
        c.add_argument("--msl", type=float, default=1.0,
                       help="TCP MSL in seconds: TIME_WAIT is twice this (default 1)")
        c.add_argument("--window", type=size_arg, default=None,
                       help="receive and send window bytes (default: the stack's, 1M at MTU 1500)")
        c.add_argument("--rto-min", type=float, default=None,
                       help="lowest retransmission timeout in seconds (default: the stack's; "
                            "Linux uses 0.2)")
        c.add_argument("--ecn", action="store_true",
                       help="offer and accept ECN (RFC 3168; off by default)")
    s = sub.choices["serve"]
    s.add_argument("--tcp-port", type=int, default=8080)
    s.add_argument("--size", type=size_arg, default=parse_size("1M"), help="body bytes (default 1M)")
    s.add_argument("--seed", type=int, default=1, help="seed of the body (default 1)")
    s.add_argument("--connections", type=int, default=0,
                   help="stop after this many requests (default 0: until SIGTERM)")
    f = sub.choices["fetch"]
    f.add_argument("--url", required=True, help="http://ADDRESS[:PORT]/PATH")
    f.add_argument("--connect-timeout", type=float, default=30.0)


def main(argv=None) -> int:
    return run(build_parser().parse_args(argv))


def run(args) -> int:
    _stop_on_sigterm()
    try:
        return serve(args) if args.cmd == "serve" else fetch(args)
    except KeyboardInterrupt:
        return 130
    except ValueError as e:
        print(f"httpdemo: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"httpdemo: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
