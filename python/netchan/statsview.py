"""`netchan stats`: the counters of every running netchan stack on this machine.

Each Stack (with export_stats=True, the default) keeps its counters in a small
shared segment /dev/shm/netchan-stats.PID.N: a header with a JSON description
(names of the counters, the port chain), then the live uint64 counters.

This module reads those segments. A user sees only the segments they may
read (the writer makes them 0600: root sees every stack, others their own).
Segments whose process is gone are removed by remove_stale_segments(), which
`netchan stats` runs, and which a new Stack runs once per process
(remove_stale_segments_once), so that killed processes do not fill /dev/shm.
"""
from __future__ import annotations

import json
import os
import struct

from netchan._core import pid_alive
from netchan.stats_segment import (  # noqa: F401 (the segment's layout and files live there)
    DIRECTORY as STATS_DIR,
    owner_pid as segment_owner_pid,
    read_segment,
    remove_stale_segments,
    remove_stale_segments_once,
)


def list_stacks(pid: int | None = None, clean: bool = True,
                directory: str = STATS_DIR) -> list[dict]:
    """The live stacks this user may read (all of them, as root), optionally
    only those of process `pid`; with clean=True, stale segments are removed
    first (remove_stale_segments)."""
    if clean:
        remove_stale_segments(directory)
    out = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return out
    for name in names:
        owner = segment_owner_pid(name)
        if owner is None or (pid is not None and owner != pid) or not pid_alive(owner):
            continue
        path = os.path.join(directory, name)
        if not os.access(path, os.R_OK):
            continue        # another user's stack (0600): not ours to show
        try:
            seg = read_segment(path)
        except (OSError, ValueError, struct.error):
            continue
        if seg is not None:
            out.append(seg)
    return out


def _print_stack(seg: dict, show_all: bool) -> None:
    addresses = seg.get("addresses", [seg["ip"]])
    four = [a.split("/")[0] for a in addresses if a and ":" not in a]     # none: IPv6 only
    six = [a for a in addresses if a and ":" in a]
    print(f"pid {seg['pid']}  {seg['uri']}  ip {' '.join(four) or '-'}  mac {seg['mac']}"
          + (f"  ipv6 {' '.join(six)}" if six else ""))
    rows = [(k, v) for k, v in seg["counters"].items() if show_all or v]
    rows += [(k, v) for k, v in seg["wire"].items() if show_all or v]
    for p in seg["ports"]:
        rows += [(f"{p['kind']}.{k}", v) for k, v in p["counters"].items() if show_all or v]
    width = max((len(k) for k, _ in rows), default=10)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")


def main(args) -> int:
    stacks = list_stacks(args.pid)
    if args.json:
        print(json.dumps(stacks, indent=2))
        return 0
    if not stacks:
        print("no running netchan stacks" + (f" in pid {args.pid}" if args.pid else ""))
        return 1 if args.pid else 0
    for i, seg in enumerate(stacks):
        if i:
            print()
        _print_stack(seg, args.all)
    return 0
