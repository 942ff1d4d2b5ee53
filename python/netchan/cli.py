"""The `netchan` command line: benchmarks, live counters, hugepages, and the testbed."""
from __future__ import annotations

import argparse
import sys


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
def _cmd_testbed(args):
    from netchan import testbed
    return testbed.main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netchan", description="netchan: kernel-bypass TCP/IP for Python")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="benchmarks: netchan and the kernel side by side")
    bsub = b.add_subparsers(dest="bench", required=True)
    s = bsub.add_parser("stream", help="bulk TCP stream between two processes, then the kernel's")
    s.add_argument("--time", type=float, default=10.0, help="seconds per measurement (default 10)")
    s.add_argument("--port", default=None, help="port URI for netchan (default shm:bench-PID)")
    s.add_argument("--server-port", default=None,
                   help="port URI for the server end when the two ends differ "
                        "(e.g. dpdk:net_memif0,role=server,socket=/tmp/m.sock)")
    s.add_argument("--client-port", default=None, help="port URI for the client end")
    s.add_argument("--mtu", type=int, default=65535, help="shm link MTU (default 65535)")
    s.add_argument("--write-size", type=int, default=1 << 20, help="bytes per send (default 1 MiB)")
    s.add_argument("--window", type=int, default=None, help="rcvbuf/sndbuf bytes (default by MTU)")
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
    from netchan import testbed
    testbed.add_parser(sub)
    sub.choices["testbed"].set_defaults(func=_cmd_testbed)
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
