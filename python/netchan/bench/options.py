"""The arguments of `netchan bench MODE`. Types check numbers as argparse
reads them; check() refuses combinations in one line before anything
starts (both exit 2 from the command line)."""
from __future__ import annotations

import argparse

MODES = {
    "stream": "bulk TCP over --flows connections (-R: server to client), then the kernel's",
    "rr": "request/response on one connection (64 B; transactions/s and latency percentiles)",
    "crr": "connect, one request/response, close (connections/s and latency percentiles)",
    "pps": "64 B frames through the port alone, no TCP (the link's packet ceiling)",
}
DEFAULT_SIZE = {"stream": 1 << 20, "rr": 64, "crr": 64, "pps": 64}
KERNEL_CHOICES = ("auto", "stock", "iperf3", "sockperf", "python", "none")


def cpu_list(text):
    try:
        cpus = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected CPU numbers, SERVER,CLIENT "
                                         f"(e.g. 0,1) or one for both") from None
    if not 1 <= len(cpus) <= 2 or min(cpus) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give one or two CPU numbers, e.g. 0,1")
    return cpus


def non_negative_seconds(text):
    from netchan.cli import positive_seconds
    if text.strip() in ("0", "0.0"):
        return 0.0
    return positive_seconds(text)


def add_parsers(bench_parser):
    from netchan.cli import int_range, positive_seconds, positive_size
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("measurement")
    g.add_argument("--time", "-t", type=positive_seconds, default=10.0,
                   help="seconds measured per stack (default 10)")
    g.add_argument("--warmup", type=non_negative_seconds, default=0.5,
                   help="seconds run before measuring (default 0.5; like iperf3 -O)")
    g.add_argument("--interval", "-i", type=positive_seconds, default=1.0,
                   help="seconds between interval lines (default 1)")
    g.add_argument("--size", "--write-size", "-l", dest="size", type=positive_size,
                   default=None, help="bytes per write (stream, default 1M), per request and "
                                      "response (rr/crr, default 64), per frame with FCS "
                                      "(pps, default 64)")
    g.add_argument("--cpu", type=cpu_list, default=None,
                   help="pin the server and client processes: SERVER,CLIENT (e.g. 0,1), "
                        "or one CPU for both")
    g = common.add_argument_group("link")
    g.add_argument("--link", "--port", dest="link", default=None,
                   help="port URI for netchan: shm:NAME (default shm:bench-PID), "
                        "afpacket:IFACE, xdp:IFACE, dpdk:..., with ?fault or pcap parameters")
    g.add_argument("--server-link", "--server-port", dest="server_link", default=None,
                   help="port URI of the server end when the two ends differ "
                        "(e.g. dpdk:net_memif0,role=server,socket=/tmp/m.sock)")
    g.add_argument("--client-link", "--client-port", dest="client_link", default=None,
                   help="port URI of the client end")
    g.add_argument("--testbed", action="store_true",
                   help="run netchan on one end of a veth pair against the Linux kernel in a "
                        "peer namespace, made for this run and removed after it (root; "
                        "--link defaults to afpacket:eth0)")
    g.add_argument("--offload", choices=("on", "off"), default=None,
                   help="the testbed veth's TSO/GSO/checksum offloads, for both turns "
                        "(default on; off for dpdk: and xdp: links, which cannot take them)")
    g.add_argument("--rps", action="store_true",
                   help="with --testbed: each host on a CPU of its own, its processes and its "
                        "receive work (RPS): the peer on the server's CPU, the bare end on the "
                        "client's (--cpu, default 0,1), as a NIC's interrupts would put it; "
                        "without it, veth does a receiver's work on its sender's CPU")
    g.add_argument("--mtu", type=int_range(576, 65535), default=None,
                   help="netchan's MTU (default: 65535 on shm, the interface's elsewhere)")
    g.add_argument("--window", type=positive_size, default=None,
                   help="rcvbuf/sndbuf bytes on both stacks: 4096 to 1G (default by MTU)")
    g.add_argument("--busy-poll", type=non_negative_seconds, default=None, metavar="SECONDS",
                   help="netchan's busy_poll: how long a blocking call spins before it sleeps "
                        "(default the Stack's, 50e-6; 0 never spins)")
    g.add_argument("--busy-poll-mode", choices=("answer", "always"), default=None,
                   help="netchan's busy_poll_mode: spin only while an answer is due "
                        "(answer, the Stack's default) or in every wait (always)")
    g = common.add_argument_group("kernel and output")
    g.add_argument("--kernel", choices=KERNEL_CHOICES, default="auto",
                   help="the kernel's turn: stock tool (iperf3 for stream, sockperf for rr and "
                        "pps), python (the same Python loop on kernel sockets), none; auto = "
                        "stock for stream and pps, python for rr and crr")
    g.add_argument("--kernel-cc", default="cubic", metavar="NAME",
                   help="the kernel's TCP congestion control, on every kernel socket of both "
                        "turns (the testbed's Linux peer too, and the default of the testbed's "
                        "namespaces): cubic (default, Linux's own "
                        "default), bbr, reno, ..., or system (the sysctl's). bbr without the fq "
                        "qdisc paces in the kernel and caps one flow well below the link")
    g.add_argument("--no-kernel", dest="kernel", action="store_const", const="none",
                   help="skip the kernel's turn")
    g.add_argument("--json", "-J", action="store_true",
                   help="print one JSON object (docs/benchmarks.md has the schema)")
    g.add_argument("--plot", metavar="FILE.png", default=None,
                   help="draw throughput or latency over time, netchan beside the kernel")

    sub = bench_parser.add_subparsers(dest="bench", required=True)
    parsers = {}
    for mode, text in MODES.items():
        p = sub.add_parser(mode, parents=[common], help=text, description=text)
        p.set_defaults(mode=mode)
        parsers[mode] = p
    s = parsers["stream"]
    s.add_argument("--flows", "-P", type=int_range(1, 64), default=1,
                   help="parallel connections (default 1)")
    s.add_argument("--reverse", "-R", action="store_true",
                   help="the server sends, the client receives")
    s.add_argument("--zerocopy", "--zero-copy", dest="zerocopy",
                   action=argparse.BooleanOptionalAction, default=True,
                   help="netchan's sender writes into send_view() and its receiver reads every "
                        "byte of recv_view() (default on); off: sendall/recv_into")
    s.add_argument("--verify", action="store_true",
                   help="check the byte stream end to end (sha256 on both ends; slower)")
    return parsers


def check_kernel_cc(name):
    """--kernel-cc: a congestion control this kernel has, or None for the
    sysctl's default ("system")."""
    import sys
    from netchan.congestion import allowed_cc, check_congestion_control, may_choose_cc
    if name == "system":
        return None
    check_congestion_control(name, "--kernel-cc ", ValueError, ", or system")
    if not may_choose_cc(name):
        # An unprivileged socket may only take an allowed one (iperf3 -C would
        # fail). reno is loss-based as cubic is and, on a path that loses
        # nothing, as fast (loopback, 2026-12-07: 57 Gbit/s each, bbr 34);
        # the result's label names what ran
        instead = "reno" if may_choose_cc("reno") else None
        print(f"netchan bench: --kernel-cc {name}: this user may not choose {name} (this "
              f"machine allows {' '.join(allowed_cc())}: net.ipv4.tcp_allowed_congestion_control);"
              f" the kernel runs {instead or 'the machine default'} instead. Run as root, or add "
              f"{name} to that list, to measure the kernel on {name}", file=sys.stderr)
        return instead
    return name


def check(args):
    """Refuse what cannot run, in one line (ValueError: exit 2)."""
    from netchan.config import check_buffer
    from netchan.uri import parse_port_uri
    mode = args.mode
    if args.size is None:
        args.size = DEFAULT_SIZE[mode]
    if mode in ("rr", "crr") and args.size > 1 << 20:
        raise ValueError(f"--size {args.size}: {mode} requests are at most 1M")
    if mode == "pps" and not 64 <= args.size <= 9018:
        raise ValueError(f"--size {args.size}: a pps frame is 64 to 9018 bytes (with FCS)")
    for flag in ("server_link", "client_link"):
        if getattr(args, flag) and args.testbed:
            raise ValueError(f"--{flag.replace('_', '-')} and --testbed: in the testbed "
                             f"netchan runs one end only; give --link")
    if args.rps and not args.testbed:
        raise ValueError("--rps: only with --testbed (it steers the testbed veth's receive work)")
    if args.offload is not None and not args.testbed:
        raise ValueError("--offload: only with --testbed (it sets the testbed veth's offloads)")
    if (args.server_link is None) != (args.client_link is None):
        raise ValueError("give both --server-link and --client-link, or neither")
    for u in (args.link, args.server_link, args.client_link):
        if u is not None:
            parse_port_uri(u)
    if args.window is not None:
        check_buffer(args.window, "--window")
    args.kernel_cc = check_kernel_cc(args.kernel_cc)
    if args.busy_poll is not None:
        from netchan.config import MAX_BUSY_POLL
        if args.busy_poll > MAX_BUSY_POLL:
            raise ValueError(f"--busy-poll {args.busy_poll}: at most {MAX_BUSY_POLL} s")
    if args.mtu is None and not args.testbed and not (args.link or args.server_link):
        args.mtu = 65535
    if mode == "stream" and args.verify and args.kernel not in ("python", "none"):
        if args.kernel == "auto":
            args.kernel = "python"      # iperf3 cannot hash what it moved
        else:
            raise ValueError("--verify: the kernel's turn must be --kernel python or none "
                             "(iperf3 does not check its bytes)")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise ValueError(f"--plot {args.plot}: give a .png file name")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plot needs matplotlib: pip install 'netchan[bench]'") from None
    if args.interval > args.time:
        args.interval = args.time
