"""`netchan bench`: netchan and the kernel's TCP side by side, in one run.

    netchan bench stream --time 10          # bulk (make bench)
    netchan bench rr                        # 64 B request/response, latency percentiles
    netchan bench crr                       # connect, request, response, close
    netchan bench pps                       # 64 B frames through the port alone

Each mode measures netchan, then the kernel on the same work (loopback for
a shm link; the same veth pair with --testbed), and prints the ratio.
Modules: command (the run), options (arguments), links (who runs where), runner (one turn),
stream / rr / pps (the measured ends), kernel (stock tools), report
(text, JSON, plot, live display), procs (processes)."""
from __future__ import annotations

import json
import sys

from netchan.bench.procs import BenchError

ROLES = ("server", "client", "rr-server", "rr-client", "pps-rx", "pps-tx")

CHILD_USAGE = """usage: python -m netchan.bench ROLE CONFIG_JSON

This module is the worker that `netchan bench stream|rr|crr|pps` starts, one
process per end (roles: server, client, rr-server, rr-client, pps-rx,
pps-tx); CONFIG_JSON is the measurement's settings as the parent writes
them. To run a benchmark:

    netchan bench stream --time 10          (options: netchan bench stream --help)"""


def main(args) -> int:
    from netchan.bench.command import run
    try:
        return run(args)
    except BenchError as e:
        print(f"netchan bench: {e}", file=sys.stderr)
        return 1


def child_main(argv) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(CHILD_USAGE)
        return 0 if argv else 2
    role = argv[0]
    if role not in ROLES:
        print(f"python -m netchan.bench: unknown role {role!r} (one of {', '.join(ROLES)}); "
              f"to run a benchmark: netchan bench stream --help", file=sys.stderr)
        return 2
    import signal
    # the parent ends a role with SIGTERM when the other end failed: unwind,
    # so that the role's ports and stacks close (and remove their files)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if len(argv) != 2:
            raise ValueError("expected one CONFIG_JSON argument after the role")
        cfg = json.loads(argv[1])
        _run_role(role, cfg)
    except (KeyError, ValueError, OSError, ConnectionError) as e:
        # one line on stderr: the parent repeats it as its own error
        print(f"netchan bench {role}: {e}", file=sys.stderr)
        return 2 if isinstance(e, (KeyError, ValueError)) else 1
    return 0


def _run_role(role, cfg):
    from netchan.bench import pps, rr, stream
    {"server": stream.run_server, "client": stream.run_client,
     "rr-server": rr.run_server, "rr-client": rr.run_client,
     "pps-rx": pps.run_rx, "pps-tx": pps.run_tx}[role](cfg)
