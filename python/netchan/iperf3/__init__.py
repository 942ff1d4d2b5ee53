"""`netchan iperf3`: iperf3's control protocol on a netchan stack, so stock
iperf3 and netchan test each other, either one the server.

    netchan iperf3 -s [-p 5201] [-1] [-J] --link URI --ip ADDR/PREFIX
    netchan iperf3 -c HOST [-p 5201] [-t SECONDS] [-R] [-P N] [-l LEN] [-J] \\
        --link URI --ip ADDR/PREFIX

TCP tests only, timed (-t), one direction (-R turns it around): UDP,
--bidir, -n and -k are refused with a clear message (as a server, with
iperf3's SERVER_ERROR "not implemented"). Output and -J JSON follow iperf3
3.12. The pieces: protocol.py (cookie, states, JSON messages), control.py
(blocking steps on the control connection), session.py (the streams while
the test runs), client.py, server.py, report.py (text and JSON),
transport.py (netchan or the kernel's sockets underneath).
"""
from __future__ import annotations

import argparse
import signal

from netchan.iperf3.protocol import DEFAULT_BLOCK, DEFAULT_PORT, MAX_BLOCK, MAX_STREAMS


def add_parser(sub, positive_seconds, positive_size, int_range):
    """`netchan iperf3` on the CLI's subparsers (cli.py passes its checkers)."""
    p = sub.add_parser("iperf3", help="iperf3's protocol on netchan: interoperates with stock "
                                      "iperf3, as server (-s) or client (-c HOST); TCP only",
                       description=__doc__.split("\n\n")[0])
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("-s", "--server", action="store_true", help="run as a server")
    role.add_argument("-c", "--client", metavar="HOST", help="run as a client, testing HOST")
    p.add_argument("-p", "--port", type=int_range(1, 65535), default=DEFAULT_PORT,
                   help=f"server port (default {DEFAULT_PORT})")
    p.add_argument("-1", "--one-off", action="store_true", help="server: one test, then exit")
    p.add_argument("-J", "--json", action="store_true", help="output iperf3's JSON document")
    p.add_argument("-t", "--time", type=positive_seconds, default=None,
                   help="client: seconds to transmit (default 10)")
    p.add_argument("-R", "--reverse", action="store_true",
                   help="client: the server sends, the client receives")
    p.add_argument("-P", "--parallel", type=int_range(1, MAX_STREAMS), default=None,
                   help="client: parallel streams (default 1)")
    p.add_argument("-l", "--length", type=positive_size, default=None,
                   help=f"client: bytes per write (default 128K, at most 1M)")
    p.add_argument("-u", "--udp", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-w", "--window", type=positive_size, default=None,
                   help="the stack's receive and send buffers per connection (e.g. 4M)")
    p.add_argument("--link", required=True, metavar="URI",
                   help="the netchan port: afpacket:IFACE, shm:NAME, dpdk:DEVARGS, ...")
    p.add_argument("--ip", required=True, metavar="ADDR/PREFIX",
                   help="netchan's address on the link, e.g. 198.18.0.2/15")
    p.add_argument("--connect-timeout", type=positive_seconds, default=10.0,
                   help="client: seconds to wait for each connection (default 10)")
    p.set_defaults(func=main, iperf3_parser=p)
    return p


def check_args(args):
    """The combination checks argparse cannot make; None or the message."""
    if args.udp:
        return "-u: netchan iperf3 runs TCP tests only (UDP is not supported)"
    if args.server:
        given = [flag for flag, v in (("-t", args.time), ("-R", args.reverse or None),
                                      ("-P", args.parallel), ("-l", args.length)) if v]
        if given:
            return f"{', '.join(given)}: client options; a server takes what its client asks for"
    elif args.one_off:
        return "-1: a server option (use it with -s)"
    if args.length is not None and args.length > MAX_BLOCK:
        return f"-l {args.length}: at most {MAX_BLOCK} (1M) bytes per write"
    return None


def main(args) -> int:
    problem = check_args(args)
    if problem:
        args.iperf3_parser.error(problem)
    import netchan
    from netchan.iperf3.protocol import ProtocolError, TestParams
    from netchan.iperf3.report import Report
    from netchan.iperf3.transport import NetchanNet
    # SIGTERM ends a server like Ctrl-C, so the stack closes and nothing is left behind
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    options = {}
    if args.window is not None:
        options["rcvbuf"] = options["sndbuf"] = args.window
    with netchan.Stack(args.link, ip=args.ip, **options) as stack:
        net = NetchanNet(stack)
        if args.server:
            from netchan.iperf3.server import serve
            try:
                return serve(net, args.port, lambda: Report(args.json), one_off=args.one_off)
            except KeyboardInterrupt:
                return 0
        from netchan.iperf3.client import run_client
        params = TestParams(time=args.time or 10.0, parallel=args.parallel or 1,
                            reverse=args.reverse, length=args.length or DEFAULT_BLOCK)
        report = Report(args.json)
        try:
            return run_client(net, args.client, args.port, params, report,
                              connect_timeout=args.connect_timeout)
        except (ProtocolError, OSError) as e:
            report.error(str(e))
            return 1
        finally:
            report.finish()
