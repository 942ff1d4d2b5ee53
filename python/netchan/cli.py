"""The `netchan` command line: benchmarks, live counters, hugepages, the
testbed and the demo servers."""
from __future__ import annotations

import argparse
import math
import sys

from netchan.units import parse_size


def positive_seconds(text: str) -> float:
    """argparse type=: a finite number of seconds > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds, "
                                         f"e.g. 10 or 0.5") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number of seconds greater "
                                         f"than 0, e.g. 10")
    return v


def positive_size(text: str) -> int:
    """argparse type=: a size in bytes > 0 (4096, 64K, 1M)."""
    try:
        v = parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1 byte, e.g. 1M")
    return v


def int_range(lo: int, hi: int):
    """argparse type=: a whole number in lo..hi."""
    def check(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number "
                                             f"from {lo} to {hi}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v}: must be between {lo} and {hi}")
        return v
    check.__name__ = f"int in {lo}..{hi}"
    return check


def _cmd_bench(args):
    from netchan import bench
    return bench.main(args)


def _cmd_stats(args):
    from netchan import statsview
    return statsview.main(args)


def _cmd_hugepages(args):
    import json

    from netchan import hugepages
    result = None
    if args.reserve is not None:
        size = hugepages.parse_size(args.reserve)
        page_kb = hugepages.parse_size(args.page_size) >> 10
        result = hugepages.reserve(size, page_kb=page_kb,
                                   mount=None if args.no_mount else args.mount)
    st = hugepages.status()
    if args.json:
        print(json.dumps({"reserve": result, **st}, indent=2))
        return 0
    if result is not None:
        page = hugepages.format_size(result["page_kb"] * 1024)
        what = (f"{result['got']} x {page} pages reserved" if result["got"]
                else f"{page} hugepages given back")
        if result["mounted"]:
            what += f"; hugetlbfs mounted at {result['mounted']}"
        print(what)
    print(hugepages.report(st))
    return 0
def _cmd_demo_echo(args):
    from netchan import demo
    return demo.run(args, args.demo_parser)


def _cmd_demo_http(args):
    from netchan import httpdemo
    return httpdemo.run(args)


def _cmd_testbed(args):
    from netchan import testbed_cli
    return testbed_cli.main(args)


class _VersionAction(argparse.Action):
    """--version, looked up only when asked for (the package metadata is
    slow to read and every other command does without it)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import netchan
        print(f"netchan {netchan.__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    import netchan
    p = argparse.ArgumentParser(prog="netchan", description="netchan: kernel-bypass TCP/IP for Python")
    p.add_argument("--version", action=_VersionAction, help="print netchan's version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="benchmarks: netchan and the kernel side by side")
    bsub = b.add_subparsers(dest="bench", required=True)
    s = bsub.add_parser("stream", help="bulk TCP stream between two processes, then the kernel's")
    s.add_argument("--time", type=positive_seconds, default=10.0,
                   help="seconds per measurement (default 10)")
    s.add_argument("--port", default=None, help="port URI for netchan (default shm:bench-PID)")
    s.add_argument("--server-port", default=None,
                   help="port URI for the server end when the two ends differ "
                        "(e.g. dpdk:net_memif0,role=server,socket=/tmp/m.sock)")
    s.add_argument("--client-port", default=None, help="port URI for the client end")
    s.add_argument("--mtu", type=int_range(576, 65535), default=65535,
                   help="shm link MTU (default 65535)")
    s.add_argument("--write-size", type=positive_size, default=1 << 20,
                   help="bytes per send: 4096, 64K, 1M (default 1M)")
    s.add_argument("--window", type=positive_size, default=None,
                   help="rcvbuf/sndbuf bytes: 4096 to 1G (default by MTU)")
    s.add_argument("--zero-copy", action=argparse.BooleanOptionalAction, default=True,
                   help="client writes into send_view() and server reads recv_view() (default on)")
    s.add_argument("--kernel", choices=("auto", "iperf3", "python", "none"), default="auto",
                   help="kernel baseline: stock iperf3 -l 1M if installed (auto), Python sockets, or none")
    s.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    s.set_defaults(func=_cmd_bench)

    st = sub.add_parser("stats", help="counters of running netchan stacks (all processes)")
    st.add_argument("--pid", type=int, default=None, help="only this process")
    st.add_argument("--all", action="store_true", help="include counters that are zero")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=_cmd_stats)

    h = sub.add_parser("hugepages", help="report reserved/free hugepages; reserve them (root)")
    h.add_argument("--reserve", metavar="SIZE", default=None,
                   help="set the reserved total to SIZE (256M, 1G; 0 gives them back) and mount "
                        "hugetlbfs if none is mounted (needs root)")
    h.add_argument("--page-size", default="2M", help="hugepage size to reserve (default 2M)")
    h.add_argument("--mount", default="/dev/hugepages",
                   help="where to mount hugetlbfs when none is mounted (default /dev/hugepages)")
    h.add_argument("--no-mount", action="store_true", help="do not mount hugetlbfs")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=_cmd_hugepages)
    from netchan import testbed_cli
    testbed_cli.add_parser(sub)
    sub.choices["testbed"].set_defaults(func=_cmd_testbed)

    from netchan import iperf3
    iperf3.add_parser(sub, positive_seconds, positive_size, int_range)

    from netchan import demo, httpdemo
    d = sub.add_parser("demo", help="demo servers and clients: echo (checks every byte), "
                                    "http (for curl and other stock tools)")
    dsub = d.add_subparsers(dest="demo", required=True)
    e = dsub.add_parser("echo", help="echo server and a client that checks what comes back",
                        description=demo.__doc__.split("\n\n")[0])
    demo.add_roles(e)
    e.set_defaults(func=_cmd_demo_echo, demo_parser=e)
    h = dsub.add_parser("http", help="HTTP/1.0 server (seeded body) and fetcher",
                        description=httpdemo.__doc__.split("\n\n")[0])
    httpdemo.add_commands(h)
    h.set_defaults(func=_cmd_demo_http)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as e:
        print(f"netchan: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
