"""`netchan stats`: the counters of every running netchan stack on this machine.

Each Stack (with export_stats=True, the default) keeps its counters in a small
shared segment /dev/shm/netchan-stats.PID.N: a header with a JSON description
(names of the counters, the port chain), then the live uint64 counters. This
module only reads those segments; segments whose process is gone are removed.
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


def list_stacks(pid: int | None = None, clean: bool = True) -> list[dict]:
    out = []
    try:
        names = sorted(os.listdir(STATS_DIR))
    except FileNotFoundError:
        return out
    for name in names:
        if not name.startswith(PREFIX):
            continue
        try:
            owner = int(name[len(PREFIX):].split(".")[0])
        except ValueError:
            continue
        path = os.path.join(STATS_DIR, name)
        if not pid_alive(owner):
            if clean:
                try:
                    os.unlink(path)
                except OSError:
                    pass
            continue
        if pid is not None and owner != pid:
            continue
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
