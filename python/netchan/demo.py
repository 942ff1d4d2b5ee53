"""A tiny echo server and a client that checks what comes back: the smallest
program that shows two netchan stacks talking over any port.

    python3 -m netchan.demo server --port afpacket:eth0 --ip 198.18.1.1/15
    python3 -m netchan.demo client --port afpacket:eth0 --ip 198.18.1.2/15 \\
        --server 198.18.1.1 --bytes 16M
    python3 -m netchan.demo client --kernel --server 198.18.1.1    # Linux's TCP

The client sends seeded pseudo-random bytes in chunks and reads each chunk's
echo before sending the next (so neither side's window can fill while the
other waits), then compares SHA-256 digests of what it sent and what came
back. It exits 0 when they match, 1 when they do not, 2 on a usage error.
Used by docker/compose.yaml; works on any port (shm:NAME between two
processes needs no root).
"""
from __future__ import annotations

import argparse
import random
import socket
import sys
import time

from netchan.units import parse_size, size_arg

DEFAULT_TCP_PORT = 7007
CHUNK = 256 * 1024

def _stack(args):
    import netchan
    return netchan.Stack(port=args.port, ip=args.ip)


def _log(*parts):
    print("netchan-demo:", *parts, flush=True)


def serve(args) -> int:
    """Echo every connection's bytes back until it closes; one connection at
    a time; stop after --connections (0 = never)."""
    with _stack(args) as stack:
        listener = stack.listen(args.tcp_port)
        _log(f"server {stack.ip} mac {stack.mac} listening on TCP {args.tcp_port} "
             f"(port {args.port})")
        served = 0
        while args.connections == 0 or served < args.connections:
            conn = listener.accept()
            peer = conn.getpeername()
            total = 0
            started = time.monotonic()
            try:
                while True:
                    data = conn.recv(65536, timeout=args.io_timeout)
                    if not data:
                        break
                    conn.sendall(data, timeout=args.io_timeout)
                    total += len(data)
                conn.close()
            except OSError as e:
                # reset or silent: that connection only (a client's abandoned
                # connect attempt can arrive here and be reset at once)
                conn.abort()
                _log(f"connection from {peer[0]}:{peer[1]} failed after {total} bytes: {e}")
                continue
            served += 1
            seconds = max(time.monotonic() - started, 1e-9)
            _log(f"echoed {total} bytes to {peer[0]}:{peer[1]} in {seconds:.3f} s")
        listener.close()
        _linger(stack, args.linger)
    return 0


def _linger(stack, seconds, done=None):
    """Keep the stack running until the peers have acknowledged our FINs.
    Unlike a kernel, a user-space stack dies with its process: a FIN lost
    after exit would never be sent again, and the peer would wait for it."""
    try:
        stack.run_until(done or (lambda: stack.n_connections == 0), timeout=seconds)
    except TimeoutError:
        _log(f"a connection was still closing after {seconds:g} s; exiting")


class _KernelStack:
    """The client's other mode (--kernel): the Linux kernel's TCP through
    Python's socket module, with the few calls the client uses."""

    ip = "(Linux TCP)"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def connect(self, address, timeout=None):
        return _KernelConn(socket.create_connection(address, timeout=timeout))

    def poll(self, timeout):
        time.sleep(timeout)     # nothing to drive: the kernel runs itself


class _KernelConn:
    def __init__(self, sock):
        self.sock = sock

    def sendall(self, data):
        self.sock.settimeout(None)
        self.sock.sendall(data)

    def recv(self, n, timeout=None):
        self.sock.settimeout(timeout)
        return self.sock.recv(n)

    def shutdown(self, how):
        self.sock.shutdown(how)

    def close(self):
        self.sock.close()


def _connect(stack, address, deadline):
    """Connect, retrying while the server is not up yet (refused or silent)."""
    while True:
        try:
            return stack.connect(address, timeout=max(1.0, min(5.0, deadline - time.monotonic())))
        except (ConnectionRefusedError, TimeoutError, OSError) as e:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"could not connect to {address[0]}:{address[1]}: {e}") from e
            _log(f"connect to {address[0]}:{address[1]}: {e}; retrying")
            stack.poll(0.5)


def client(args) -> int:
    rng = random.Random(args.seed)
    import hashlib      # here, not at import: `netchan --help` stays light
    sent_digest, echo_digest = hashlib.sha256(), hashlib.sha256()
    with (_KernelStack() if args.kernel else _stack(args)) as stack:
        address = (args.server, args.tcp_port)
        conn = _connect(stack, address, time.monotonic() + args.connect_timeout)
        _log(f"client {stack.ip} connected to {address[0]}:{address[1]}")
        started = time.monotonic()
        left = args.bytes
        while left:
            chunk = rng.randbytes(min(CHUNK, left))
            conn.sendall(chunk)
            sent_digest.update(chunk)
            want = len(chunk)
            while want:
                data = conn.recv(want, timeout=args.io_timeout)
                if not data:
                    _log(f"the server closed with {left - len(chunk) + want} bytes not echoed")
                    return 1
                echo_digest.update(data)
                want -= len(data)
            left -= len(chunk)
        conn.shutdown(socket.SHUT_WR)
        tail = conn.recv(1, timeout=args.io_timeout)
        if not args.kernel and not tail:
            # our FIN acknowledged (TIME_WAIT) before the process goes
            _linger(stack, args.linger, lambda: conn.state in ("TIME_WAIT", "CLOSED"))
        conn.close()
        seconds = max(time.monotonic() - started, 1e-9)
    if tail:
        _log("the server sent more bytes than it was sent")
        return 1
    if sent_digest.digest() != echo_digest.digest():
        _log(f"MISMATCH: sent sha256 {sent_digest.hexdigest()}, echoed {echo_digest.hexdigest()}")
        return 1
    _log(f"ok: {args.bytes} bytes echoed intact, sha256 {sent_digest.hexdigest()}, "
         f"{args.bytes * 8 / seconds / 1e6:.1f} Mbit/s each way")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m netchan.demo",
                                description="netchan echo server and checking client "
                                            "(also: netchan demo echo)")
    add_roles(p)
    return p


def add_roles(p: argparse.ArgumentParser) -> None:
    """The server and client sub-commands, on `p` (this module's own parser,
    or `netchan demo echo`)."""
    sub = p.add_subparsers(dest="role", required=True)
    for role, ip in (("server", "198.18.1.1/15"), ("client", "198.18.1.2/15")):
        r = sub.add_parser(role)
        r.add_argument("--port", required=role == "server",
                       help="port URI: afpacket:eth0, shm:NAME, dpdk:..., with ?loss=...&pcap=...")
        r.add_argument("--ip", default=ip, help=f"this stack's address/prefix (default {ip})")
        r.add_argument("--tcp-port", type=int, default=DEFAULT_TCP_PORT,
                       help=f"TCP port (default {DEFAULT_TCP_PORT})")
        r.add_argument("--linger", type=float, default=10.0,
                       help="seconds to keep running before exit until the last FIN is "
                            "acknowledged (default 10)")
    s = sub.choices["server"]
    s.add_argument("--connections", type=int, default=0,
                   help="exit after echoing this many connections to their end (default 0: "
                        "serve forever); failed connections are logged and not counted")
    s.add_argument("--io-timeout", type=float, default=60.0,
                   help="seconds a connection may stay silent before it is dropped (default 60)")
    c = sub.choices["client"]
    c.add_argument("--kernel", action="store_true",
                   help="use the Linux kernel's TCP (Python sockets) instead of a netchan stack")
    c.add_argument("--server", required=True, help="the server's IPv4 address")
    c.add_argument("--bytes", type=size_arg, default=parse_size("16M"),
                   help="bytes to send and check (default 16M)")
    c.add_argument("--seed", type=int, default=1, help="seed of the bytes sent (default 1)")
    c.add_argument("--connect-timeout", type=float, default=60.0,
                   help="seconds to keep trying to connect (default 60)")
    c.add_argument("--io-timeout", type=float, default=30.0,
                   help="seconds to wait for any echo (default 30)")


def main(argv=None) -> int:
    parser = build_parser()
    return run(parser.parse_args(argv), parser)


def run(args, parser) -> int:
    if args.role == "client" and bool(args.kernel) == bool(args.port):
        parser.error("the client needs exactly one of --port URI (netchan) and --kernel")
    try:
        return serve(args) if args.role == "server" else client(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, NotImplementedError) as e:
        print(f"netchan-demo: {e}", file=sys.stderr)
        return 2 if isinstance(e, (ValueError, NotImplementedError)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
