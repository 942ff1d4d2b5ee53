#!/usr/bin/env python3
"""A TCP echo server on netchan.aio streams: every byte a client sends comes back.

    python3 examples/echo_server.py --link afpacket:eth0 --ip 198.18.1.1/15 --port 7
    python3 examples/echo_server.py --link shm:echo --ip 198.18.1.1/15
    python3 examples/echo_server.py --kernel --host 127.0.0.1 --port 7007   # same code, kernel TCP

It prints "echo_server: listening on ..." once it takes connections, one line
per connection that ends, and "echo_server: echoed B bytes on C connections"
after SIGINT/SIGTERM (or after --connections N connections ended).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys


def _log(*parts):
    print("echo_server:", *parts, flush=True)


async def serve(args, stack=None):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    totals = {"bytes": 0, "connections": 0}
    tasks = set()

    async def echo(reader, writer):
        tasks.add(asyncio.current_task())
        peer = writer.get_extra_info("peername")
        n = 0
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()            # waits while the client reads slowly
                n += len(data)
            writer.close()
            await writer.wait_closed()
        except (ConnectionError, OSError) as e:
            _log(f"{peer}: {type(e).__name__}: {e}")
            writer.transport.abort()
        finally:
            tasks.discard(asyncio.current_task())
            totals["bytes"] += n
            totals["connections"] += 1
            _log(f"echoed {n} bytes to {peer[0]}:{peer[1]}")
            if args.connections and totals["connections"] >= args.connections:
                stop.set()

    if stack is not None:
        import netchan.aio
        server = await netchan.aio.start_server(echo, stack, args.port)
        where = f"{args.ip.split('/')[0]}:{args.port} on {stack.uri}"
    else:
        server = await asyncio.start_server(echo, args.host, args.port, reuse_address=True)
        where = f"{args.host}:{args.port} (kernel sockets)"
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    _log("listening on", where)
    await stop.wait()
    server.close()
    for t in list(tasks):                       # connections still open at shutdown
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return totals


def build_parser():
    p = argparse.ArgumentParser(prog="echo_server.py",
                                description="TCP echo server on netchan.aio streams")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--link", metavar="URI", help="netchan port URI (afpacket:eth0, shm:NAME)")
    where.add_argument("--kernel", action="store_true", help="kernel sockets, stdlib asyncio")
    p.add_argument("--ip", metavar="ADDR/PREFIX", default="198.18.1.1/15",
                   help="the stack's address (with --link; default %(default)s)")
    p.add_argument("--host", default="0.0.0.0", help="bind address (with --kernel)")
    p.add_argument("--port", type=int, default=7, help="TCP port (default %(default)s)")
    p.add_argument("--connections", type=int, default=0,
                   help="stop after this many connections ended (default: run until a signal)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.kernel:
        totals = asyncio.run(serve(args))
    else:
        import netchan
        with netchan.Stack(args.link, ip=args.ip) as stack:
            totals = asyncio.run(serve(args, stack))
    _log(f"echoed {totals['bytes']} bytes on {totals['connections']} connections")
    return 0


if __name__ == "__main__":
    sys.exit(main())
