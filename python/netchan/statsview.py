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
import mmap
import os
import struct

from netchan._core import pid_alive

STATS_DIR = "/dev/shm"
PREFIX = "netchan-stats."
MAGIC = 0x4E435354
HEADER = 16384


def segment_owner_pid(name: str) -> int | None:
    """netchan-stats.PID.N -> PID; None for any other name."""
    if not name.startswith(PREFIX):
        return None
    pid, dot, seq = name[len(PREFIX):].partition(".")
    if not (pid.isdigit() and dot and seq.isdigit()):
        return None
    return int(pid)


def remove_stale_segments(directory: str = STATS_DIR) -> list[str]:
    """Remove the stats segments of processes that no longer exist, where
    this process may (its own files, or any as root); others are left for
    their owner or root. Returns the paths removed. Never raises for a
    segment it cannot remove or that vanished meanwhile."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    me = os.geteuid()
    for name in names:
        pid = segment_owner_pid(name)
        if pid is None or pid_alive(pid):
            continue
        path = os.path.join(directory, name)
        try:
            if me != 0 and os.lstat(path).st_uid != me:
                continue
            os.unlink(path)
            removed.append(path)
        except OSError:
            continue
    return removed


_cleaned = set()


def remove_stale_segments_once(directory: str = STATS_DIR) -> list[str]:
    """remove_stale_segments, the first time a process calls it (per
    directory): what a Stack runs when it starts."""
    key = (os.getpid(), directory)
    if key in _cleaned:
        return []
    _cleaned.add(key)
    return remove_stale_segments(directory)


def read_segment(path: str) -> dict | None:
    """One stack's counters: {'pid', 'uri', 'ip', 'mac', 'counters': {...},
    'wire': {...}, 'ports': [{'kind', 'counters'}]}; None if not a stats segment."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < HEADER:
            return None
        with mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
            magic, version, n_ctr, n_wire, n_ports, meta_len = struct.unpack_from("<6I", m, 0)
            if magic != MAGIC or version != 1:
                return None
            meta = json.loads(bytes(m[64:64 + meta_len]))
            values = struct.unpack_from(f"<{n_ctr + n_wire + 1}Q", m, HEADER)
            counters = dict(zip(meta["counters"], values[:n_ctr]))
            wire = dict(zip(meta["wire"], values[n_ctr + 1:n_ctr + 1 + n_wire]))
            fields = meta["port_fields"]
            ports = []
            off = HEADER + 8 * (n_ctr + n_wire + 1)
            for kind in meta["ports"][:n_ports]:
                vals = struct.unpack_from(f"<{len(fields)}Q", m, off)
                ports.append({"kind": kind, "counters": dict(zip(fields, vals))})
                off += 8 * len(fields)
    return {"pid": meta["pid"], "uri": meta["uri"], "ip": meta["ip"], "mac": meta["mac"],
            "counters": counters, "wire": wire, "ports": ports, "path": path}


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
    print(f"pid {seg['pid']}  {seg['uri']}  ip {seg['ip']}  mac {seg['mac']}")
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
