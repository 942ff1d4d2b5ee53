#!/usr/bin/env python3
"""An HTTP/1.1 keep-alive server on netchan.aio, to point a load generator at.

    # netchan (kernel bypass) on a link, e.g. a veth in a testbed host:
    python3 examples/http_server.py --link afpacket:eth0 --ip 198.18.1.1/15 --port 8080
    # the same application on the standard library's asyncio and kernel sockets:
    python3 examples/http_server.py --kernel --host 0.0.0.0 --port 8080

    curl http://198.18.1.1:8080/                  # hello
    curl http://198.18.1.1:8080/bytes/100000      # 100000 bytes
    wrk -t2 -c100 -d10s --latency http://198.18.1.1:8080/

Routes (GET and HEAD): `/` answers "hello\\n"; `/bytes/N` answers N bytes
(N up to 64 MiB); anything else 404, other methods 405. Every answer has a
Content-Length; connections stay open (HTTP/1.1, or HTTP/1.0 with
"Connection: keep-alive") until the client sends "Connection: close" or hangs
up; pipelined requests are answered in order. A request the parser refuses
gets a 400 and the connection is closed.

The application is one asyncio.Protocol (ServerProtocol) that parses with
httptools (llhttp, the parser uvicorn uses). Under netchan it also defines
`window_received`: netchan.aio hands it the connection's receive window as a
memoryview and the parser reads it in place (no copy into a bytes object);
the stdlib loop never calls that method and uses data_received instead.

It prints "http_server: listening on ..." once it takes connections and, on
SIGINT or SIGTERM, stops accepting, lets each connection finish the answer
it is sending (at most --grace seconds), closes the stack (FIN on what is
left) and prints "http_server: served R requests on C connections" (and the
stack's counters with --stats). Exit status 0; 2 for a usage error.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

try:
    import httptools
except ImportError:                     # pragma: no cover - told at start-up
    httptools = None

MAX_BYTES = 64 << 20
_CHUNK = b"x" * (1 << 20)


def _response(status: bytes, body: bytes, *, keep_alive: bool, head: bool = False,
              extra: bytes = b"") -> bytes:
    return b"".join((b"HTTP/1.1 ", status, b"\r\nServer: netchan-example\r\n"
                     b"Content-Type: text/plain\r\nContent-Length: ",
                     str(len(body)).encode(), b"\r\n", extra,
                     b"" if keep_alive else b"Connection: close\r\n", b"\r\n",
                     b"" if head else body))


HELLO = b"hello\n"
# the answers to `GET /`, made once
_HELLO_KEEP = _response(b"200 OK", HELLO, keep_alive=True)
_HELLO_CLOSE = _response(b"200 OK", HELLO, keep_alive=False)


def _body_of(n: int) -> bytes:
    return (_CHUNK * (n // len(_CHUNK) + 1))[:n] if n > len(_CHUNK) else _CHUNK[:n]


def answer(method: bytes, path: bytes, keep_alive: bool) -> bytes:
    """The whole response (head and body) to one request."""
    head = method == b"HEAD"
    if method not in (b"GET", b"HEAD"):
        return _response(b"405 Method Not Allowed", b"method not allowed\n",
                         keep_alive=keep_alive, extra=b"Allow: GET, HEAD\r\n")
    path = path.split(b"?", 1)[0]
    if path == b"/":
        if head:
            return _response(b"200 OK", HELLO, keep_alive=keep_alive, head=True)
        return _HELLO_KEEP if keep_alive else _HELLO_CLOSE
    if path.startswith(b"/bytes/"):
        arg = path[len(b"/bytes/"):]
        if arg.isdigit() and int(arg) <= MAX_BYTES:
            return _response(b"200 OK", _body_of(int(arg)), keep_alive=keep_alive, head=head)
        return _response(b"400 Bad Request", b"/bytes/N takes N from 0 to %d\n" % MAX_BYTES,
                         keep_alive=keep_alive, head=head)
    return _response(b"404 Not Found", b"not found\n", keep_alive=keep_alive, head=head)


class Counters:
    def __init__(self):
        self.connections = 0
        self.requests = 0
        self.open = set()               # transports of the connections open now


class ServerProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection: httptools parses, answer() answers, the
    transport's flow control paces large answers (reading pauses while the
    transport's buffer is above its high-water mark)."""

    def __init__(self, counters: Counters):
        self.counters = counters
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.out = []                   # answers made during one feed, written together
        self.close_after = False
        self.stopping = False           # shutdown: answer what is parsed, then close

    # ---- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self.counters.connections += 1
        self.counters.open.add(self)

    def connection_lost(self, exc):
        self.counters.open.discard(self)
        self.transport = None

    def data_received(self, data):
        self._feed(data)

    def window_received(self, view):
        # netchan.aio: the receive window itself (read-only, valid during the
        # call); llhttp reads it in place. Everything is used (None).
        self._feed(view)

    def eof_received(self):
        return False                    # close (after what is being written)

    def pause_writing(self):
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self):
        if self.transport is not None and not self.close_after:
            self.transport.resume_reading()

    # ---- httptools callbacks ----------------------------------------------

    def on_message_begin(self):
        self.url = b""

    def on_url(self, url):
        self.url += url

    def on_message_complete(self):
        if self.close_after:
            return                      # pipelined after "Connection: close": not answered
        p = self.parser
        keep = p.should_keep_alive() and not self.stopping
        self.out.append(answer(p.get_method(), self.url, keep))
        self.counters.requests += 1
        if not keep:
            self.close_after = True

    # ---- the rest ---------------------------------------------------------

    def _feed(self, data):
        if self.close_after:
            return                      # after "Connection: close": ignore the rest
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self.close_after:
                self.out.append(_response(b"400 Bad Request", b"no upgrades here\n",
                                          keep_alive=False))
            self.close_after = True
        except httptools.HttpParserError:
            # (llhttp also refuses bytes after a "Connection: close" request
            # in the same feed: those are dropped, not answered)
            if not self.close_after:
                self.out.append(_response(b"400 Bad Request", b"bad request\n",
                                          keep_alive=False))
            self.close_after = True
        self._flush()

    def _flush(self):
        t = self.transport
        if t is None:
            return
        if self.out:
            t.write(self.out[0] if len(self.out) == 1 else b"".join(self.out))
            self.out.clear()
        if self.close_after:
            t.close()                   # after the buffered answer is sent

    def stop(self):
        """Shutdown: an idle connection closes now, a busy one after the
        answer it is sending (the next request it parses gets Connection: close)."""
        self.stopping = True
        t = self.transport
        if t is not None and not t.get_write_buffer_size():
            self.close_after = True
            t.close()


# ---- running it ---------------------------------------------------------------

def _log(*parts):
    print("http_server:", *parts, flush=True)


async def _serve(args, stack=None):
    loop = asyncio.get_running_loop()
    counters = Counters()
    factory = lambda: ServerProtocol(counters)      # noqa: E731
    if stack is not None:
        import netchan.aio
        server = await netchan.aio.create_server(stack, factory, args.port, backlog=args.backlog)
        where = f"{args.ip.split('/')[0]}:{args.port} on {stack.uri} (netchan.aio)"
    else:
        server = await loop.create_server(factory, args.host, args.port, backlog=args.backlog,
                                          reuse_address=True)
        where = f"{args.host}:{args.port} (kernel sockets, {type(loop).__module__})"
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _log("listening on", where)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    _log("stopping")
    server.close()
    for proto in list(counters.open):
        proto.stop()
    deadline = loop.time() + args.grace
    while counters.open and loop.time() < deadline:
        await asyncio.sleep(0.01)
    for proto in list(counters.open):               # still sending after the grace time
        if proto.transport is not None:
            proto.transport.abort()
    await asyncio.sleep(0)
    return counters


def build_parser():
    p = argparse.ArgumentParser(
        prog="http_server.py",
        description="HTTP/1.1 keep-alive server on netchan.aio (or, with --kernel, on "
                    "asyncio over kernel sockets): / says hello, /bytes/N sends N bytes")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--link", metavar="URI",
                       help="netchan port URI: afpacket:eth0, shm:NAME, dpdk:...")
    where.add_argument("--kernel", action="store_true",
                       help="serve from the kernel's TCP with the standard asyncio loop")
    p.add_argument("--ip", metavar="ADDR/PREFIX", default="198.18.1.1/15",
                   help="the netchan stack's address (with --link; default %(default)s)")
    p.add_argument("--host", default="0.0.0.0",
                   help="address to bind (with --kernel; default %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default %(default)s)")
    p.add_argument("--backlog", type=int, default=1024,
                   help="listen backlog (default %(default)s)")
    p.add_argument("--max-conns", type=int, default=4096,
                   help="netchan connection slots (default %(default)s)")
    p.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's loop")
    p.add_argument("--grace", type=float, default=5.0,
                   help="seconds open connections get to finish at shutdown (default %(default)s)")
    p.add_argument("--stats", action="store_true",
                   help="print the netchan stack's non-zero counters as JSON at exit")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if httptools is None:
        print("http_server: needs httptools (pip install httptools)", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print(f"http_server: --port {args.port}: 1 to 65535", file=sys.stderr)
        return 2
    run = asyncio.run
    if args.uvloop:
        import uvloop
        run = uvloop.run
    if args.kernel:
        counters = run(_serve(args))
    else:
        import netchan
        try:
            stack = netchan.Stack(args.link, ip=args.ip, max_conns=args.max_conns)
        except (ValueError, TypeError) as e:
            print(f"http_server: {e}", file=sys.stderr)
            return 2
        with stack:
            counters = run(_serve(args, stack))
            if args.stats:
                _log("stats", json.dumps({k: v for k, v in stack.stats().items() if v},
                                         sort_keys=True))
    _log(f"served {counters.requests} requests on {counters.connections} connections")
    return 0


if __name__ == "__main__":
    sys.exit(main())
