"""`netchan testbed`: the command line over netchan.testbed (up, status,
exec, down, list); the testbed itself is python/netchan/testbed.py."""
from __future__ import annotations

import json
import os
import sys

from netchan.testbed import (DEFAULT_NAME, Testbed, TestbedError, TestbedInfo,
                             check_privileges, list_testbeds, parse_loss)


def _print_info(info: TestbedInfo | None, name: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(info.to_dict() if info else None, indent=2))
    elif info is None:
        print(f"testbed {name}: not up")
    else:
        print(info.format())


def main(args) -> int:
    try:
        return _main(args)
    except TestbedError as e:
        print(f"netchan: {e}", file=sys.stderr)
        return 2


def _main(args) -> int:
    action = args.testbed
    if action == "up":
        tb = Testbed(args.name)
        tb.up(hosts=args.hosts, rate=args.rate, loss=args.loss, mtu=args.mtu,
              kernel_ips=args.kernel_ip, offload=args.offload == "on", ipv6=args.ipv6,
              cc=args.cc, delay=args.delay,
              reorder=args.reorder, duplicate=args.duplicate, corrupt=args.corrupt)
        _print_info(tb.status(), args.name, args.json)
        if args.loss is not None and args.offload == "on" and parse_loss(args.loss):
            print("note: with offloads on, TCP crosses the veth as GSO packets of up to 64 KB "
                  "and the loss rule drops whole GSO packets; add --offload off for loss per "
                  "wire frame", file=sys.stderr)
        return 0
    if action == "status":
        names = [args.name] if args.name else list_testbeds()
        infos = [Testbed(n).status() for n in names]
        if args.json:
            print(json.dumps([i.to_dict() for i in infos if i], indent=2))
        elif not names:
            print("no testbed is up (netchan testbed up --hosts 2)")
        else:
            print("\n\n".join(i.format() if i else f"testbed {n}: not up"
                              for n, i in zip(names, infos)))
        # a testbed asked for by name that is not up is an error, like
        # `netchan stats --pid PID` of a process without stacks
        return 1 if args.name and not any(infos) else 0
    if action == "exec":
        tb = Testbed(args.name)
        cmd = list(args.cmd)
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        check_privileges()
        argv = tb._exec_argv(args.host, cmd)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvp(argv[0], argv)    # the command's exit status is ours
        except FileNotFoundError:
            raise TestbedError("ip not found: install it (Debian: apt-get install iproute2)") from None
    if action == "down":
        removed = Testbed(args.name).down()
        if removed:
            print(f"testbed {args.name}: removed {', '.join(removed)}")
        else:
            print(f"testbed {args.name}: nothing to remove")
        return 0
    raise TestbedError(f"unknown testbed action {action!r}")


def add_parser(sub) -> None:
    """The `netchan testbed` subcommands, for netchan.cli."""
    import argparse

    t = sub.add_parser("testbed", help="hosts on private links (network namespaces; needs root)",
                       description=__doc__.split("\n\n")[0] + "\nSee docs/testbed.md.")
    tsub = t.add_subparsers(dest="testbed", required=True)

    def name_arg(p, default=DEFAULT_NAME):
        p.add_argument("--name", default=default,
                       help=f"testbed name: namespaces are nc-NAME-h1 ... (default {default})"
                       if default else "only this testbed (default: every testbed that is up)")

    up = tsub.add_parser("up", help="make the hosts and links (converges: running it twice is fine)")
    up.add_argument("--hosts", type=int, default=2, help="number of hosts (default 2; >2 adds a bridge)")
    name_arg(up)
    up.add_argument("--rate", default=None, help="rate of every host's link, e.g. 1gbit, 100mbit (tbf)")
    up.add_argument("--loss", default=None, help="random loss of IPv4 packets received, e.g. 1%% "
                    "(nftables; resolution 0.1%%)")
    up.add_argument("--mtu", type=int, default=1500, help="link MTU (default 1500)")
    up.add_argument("--no-kernel-ip", dest="kernel_ip", action="store_false",
                    help="give the kernel no address on eth0 (default: 198.18.0.I on host I; "
                         "netchan uses 198.18.1.I either way)")
    up.add_argument("--ipv6", action="store_true",
                    help="IPv6 on every eth0: the kernel of host I gets 2001:2::I/64, netchan "
                         "uses 2001:2::1:I/64 (default: IPv6 off)")
    up.add_argument("--offload", choices=("on", "off"), default="on",
                    help="checksum/segmentation offloads on eth0 (off: AF_PACKET peers see "
                         "complete frames; default on)")
    up.add_argument("--cc", default=None, metavar="NAME",
                    help="every host's default TCP congestion control, e.g. cubic (default: "
                         "what a new namespace inherits from the machine)")
    for flag, param in (("delay", "delay"), ("reorder", "reorder"), ("duplicate", "dup"),
                        ("corrupt", "corrupt")):
        up.add_argument(f"--{flag}", default=None,
                        help=f"refused (the testbed drives no netem); use netchan's fault port "
                             f"({param}=...)")
    up.add_argument("--json", action="store_true", help="print the status as JSON")

    st = tsub.add_parser("status", help="hosts, addresses, MACs, rate and loss, read from the kernel")
    name_arg(st, default=None)
    st.add_argument("--json", action="store_true")

    ex = tsub.add_parser("exec", help="run a command in a host: exec h1 -- ping -c 1 198.18.0.2")
    name_arg(ex)
    ex.add_argument("host", help="h1, h2, ... (or 1, 2, ...)")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, help="-- then the command and its arguments")

    dn = tsub.add_parser("down", help="end processes in the hosts and remove every namespace and link")
    name_arg(dn)
