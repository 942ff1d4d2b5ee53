"""The stats segment: where a running Stack keeps its counters so that
`netchan stats` can read them from another process. Its layout is written
here once; the writer (pyx/api/stats_segment.pxi) and the reader
(netchan.statsview) both take it from this module.

    /dev/shm/netchan-stats.PID.N, mode 0600 (its owner and root read it)

    offset 0          header: six little-endian uint32
                      magic (stored last, with release order), version,
                      counters, wire errors, port slots, JSON length
    offset 64         JSON: pid, uri, ip, mac, counter names, wire error
                      names, port field names, port kinds (outermost first)
    offset HEADER     uint64 counters[counters]
                      uint64 wire[wire errors + 1]   (index 0 unused)
                      struct nc_port_stats ports[port slots]

Segments of processes that are gone are removed by remove_stale_segments()
(run by `netchan stats`, and once per process by the first Stack it makes).
"""
from __future__ import annotations

import json
import mmap
import os
import struct

from netchan._core import pid_alive

DIRECTORY = "/dev/shm"
PREFIX = "netchan-stats."
MAGIC = 0x4E435354                  # "NCST"
VERSION = 1
HEADER = 16384                      # header + JSON; the counters start here
JSON_OFFSET = 64
PORT_SLOTS = 4                      # port chain entries kept (outermost first)
_WORDS = struct.Struct("<6I")


def segment_size(n_counters: int, n_wire: int, n_port_fields: int) -> int:
    """Bytes a segment needs (before rounding to pages)."""
    return HEADER + 8 * (n_counters + n_wire + 1) + 8 * n_port_fields * PORT_SLOTS


def encode_header(n_counters: int, n_wire: int, meta: dict) -> bytes:
    """Everything from offset 0 up to the counters but the magic (a zero
    there: the writer stores MAGIC last, once the counters' place is ready)."""
    blob = json.dumps(meta).encode()
    if JSON_OFFSET + len(blob) > HEADER:
        raise ValueError(f"stats segment description of {len(blob)} bytes does not fit "
                         f"the {HEADER - JSON_OFFSET} bytes reserved for it")
    head = _WORDS.pack(0, VERSION, n_counters, n_wire, PORT_SLOTS, len(blob))
    return head + bytes(JSON_OFFSET - len(head)) + blob


def create(seq: int, size: int) -> tuple[int, str]:
    """A new segment file for this process, readable by its owner only:
    (fd, path), the file already of `size` bytes."""
    path = os.path.join(DIRECTORY, f"{PREFIX}{os.getpid()}.{seq}")
    try:
        os.unlink(path)         # a leftover of an earlier process with our pid
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    return fd, path


def owner_pid(name: str) -> int | None:
    """netchan-stats.PID.N -> PID; None for any other name."""
    if not name.startswith(PREFIX):
        return None
    pid, dot, seq = name[len(PREFIX):].partition(".")
    if not (pid.isdigit() and dot and seq.isdigit()):
        return None
    return int(pid)


def remove_stale_segments(directory: str = DIRECTORY) -> list[str]:
    """Remove the segments of processes that no longer exist, where this
    process may (its own files, or any as root); others are left for their
    owner or root. Returns the paths removed. Never raises for a segment it
    cannot remove or that vanished meanwhile."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    me = os.geteuid()
    for name in names:
        pid = owner_pid(name)
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


def remove_stale_segments_once(directory: str = DIRECTORY) -> list[str]:
    """remove_stale_segments, the first time a process calls it (per
    directory): what a Stack runs when it starts."""
    key = (os.getpid(), directory)
    if key in _cleaned:
        return []
    _cleaned.add(key)
    return remove_stale_segments(directory)


def read_segment(path: str) -> dict | None:
    """One stack's counters: {'pid', 'uri', 'ip', 'mac', 'addresses', 'counters': {...},
    'wire': {...}, 'ports': [{'kind', 'counters'}], 'path'}; None if the file
    is not a (finished) stats segment of this version."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < HEADER:
            return None
        with mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
            magic, version, n_ctr, n_wire, n_ports, meta_len = _WORDS.unpack_from(m, 0)
            if magic != MAGIC or version != VERSION:
                return None
            meta = json.loads(bytes(m[JSON_OFFSET:JSON_OFFSET + meta_len]))
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
            "addresses": meta.get("addresses", [meta["ip"]]), "counters": counters, "wire": wire, "ports": ports, "path": path}
