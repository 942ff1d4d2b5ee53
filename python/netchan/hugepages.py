"""Hugepages: report what is reserved and free, reserve more (root), and
mount hugetlbfs at /dev/hugepages so that shared regions and DPDK can use them.

    netchan hugepages                  # what is reserved, free, and mounted
    netchan hugepages --reserve 256M   # as root: reserve 128 x 2 MiB pages (and mount)
    netchan hugepages --reserve 0      # give them back

Reads /sys/kernel/mm/hugepages/hugepages-<size>kB/*, writes nr_hugepages there.
"""
from __future__ import annotations

import errno
import os
import re

from netchan.units import format_size, parse_size  # noqa: F401 (re-exported)

SYSFS = "/sys/kernel/mm/hugepages"
DEFAULT_MOUNT = "/dev/hugepages"
DEFAULT_PAGE_KB = 2048

def page_sizes_kb() -> list:
    """Hugepage sizes the kernel offers, in KiB (e.g. [2048, 1048576])."""
    try:
        names = os.listdir(SYSFS)
    except OSError:
        return []
    out = []
    for n in names:
        m = re.match(r"^hugepages-(\d+)kB$", n)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


def _read_int(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())


def mounts() -> list:
    """hugetlbfs mounts: [{path, page_kb}] (page_kb None = the default size)."""
    out = []
    try:
        with open("/proc/mounts") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[2] != "hugetlbfs":
            continue
        page_kb = None
        for opt in parts[3].split(","):
            if opt.startswith("pagesize="):
                try:
                    page_kb = parse_size(opt.split("=", 1)[1]) >> 10
                except ValueError:
                    pass
        out.append({"path": parts[1].replace("\\040", " "), "page_kb": page_kb})
    return out


def _default_page_kb() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("Hugepagesize:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return DEFAULT_PAGE_KB


def status() -> dict:
    """{"sizes": {page_kb: {total, free, reserved, surplus}}, "mounts": [...],
    "default_page_kb": N}. Pages counted, not bytes."""
    sizes = {}
    for kb in page_sizes_kb():
        d = os.path.join(SYSFS, f"hugepages-{kb}kB")
        entry = {}
        for key, fname in (("total", "nr_hugepages"), ("free", "free_hugepages"),
                           ("reserved", "resv_hugepages"), ("surplus", "surplus_hugepages")):
            try:
                entry[key] = _read_int(os.path.join(d, fname))
            except (OSError, ValueError):
                entry[key] = 0
        sizes[kb] = entry
    default_kb = _default_page_kb()
    ms = [dict(m, page_kb=m["page_kb"] or default_kb) for m in mounts()]
    return {"sizes": sizes, "mounts": ms, "default_page_kb": default_kb}


def free_bytes(page_kb: int = DEFAULT_PAGE_KB) -> int:
    """Free (not reserved by a mapping) hugepages of that size, in bytes."""
    st = status()["sizes"].get(page_kb)
    if not st:
        return 0
    return max(0, st["free"] - st["reserved"]) * page_kb * 1024


def reserve_hint(size: int, page_kb: int = DEFAULT_PAGE_KB) -> str:
    """What to run so that `size` bytes can be mapped on hugepages of that
    size (the pages are added to those already reserved, whoever holds them)."""
    page = page_kb * 1024
    pages = -(-size // page)
    st = status()["sizes"].get(page_kb, {"total": 0, "free": 0, "reserved": 0})
    unpromised = max(st["free"] - st["reserved"], 0)
    sysfs = os.path.join(SYSFS, f"hugepages-{page_kb}kB", "nr_hugepages")
    return (f"this needs {pages} free {format_size(page)}B hugepages and {unpromised} are free: "
            f"as root, run `netchan hugepages --reserve {format_size((st['total'] + pages) * page)}` "
            f"(or `echo {st['total'] + pages} > {sysfs}`)")


def mount_for(page_kb: int = DEFAULT_PAGE_KB):
    """Mount point of a hugetlbfs with pages of that size, or None."""
    default_kb = _default_page_kb()
    for m in mounts():
        if (m["page_kb"] or default_kb) == page_kb:
            return m["path"]
    return None


def _mount_hugetlbfs(path: str, page_kb: int):
    os.makedirs(path, exist_ok=True)
    import ctypes
    import ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    opts = f"pagesize={format_size(page_kb * 1024)}".encode()
    if libc.mount(b"nodev", path.encode(), b"hugetlbfs", 0, opts) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mounting hugetlbfs at {path}: {os.strerror(err)}")


def reserve(size_bytes: int, page_kb: int = DEFAULT_PAGE_KB, mount: str | None = DEFAULT_MOUNT) -> dict:
    """Set the pool of `page_kb` hugepages to size_bytes (rounded up to whole
    pages; 0 gives them back) and, when pages are reserved and no hugetlbfs
    of that page size is mounted, mount one at `mount` (None: do not mount).
    Needs root. Returns {"asked", "got", "page_kb", "mounted"}; raises OSError
    when the kernel could not find that many pages."""
    if page_kb not in page_sizes_kb():
        have = ", ".join(format_size(k * 1024) for k in page_sizes_kb()) or "none"
        raise ValueError(f"this kernel has no {format_size(page_kb * 1024)} hugepages "
                         f"(sizes: {have})")
    page = page_kb * 1024
    pages = (int(size_bytes) + page - 1) // page
    path = os.path.join(SYSFS, f"hugepages-{page_kb}kB", "nr_hugepages")
    if os.geteuid() != 0:
        raise PermissionError(
            errno.EPERM,
            f"reserving hugepages needs root (it writes {path}): run "
            f"`sudo netchan hugepages --reserve {format_size(pages * page)}`")
    try:
        with open(path, "w") as f:
            f.write(f"{pages}\n")
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {os.strerror(e.errno)} (is /sys "
                               "mounted read-only, as in an unprivileged container?)") from None
    got = _read_int(path)
    mounted = None
    if pages and mount:
        if not any((m["page_kb"] or _default_page_kb()) == page_kb for m in mounts()):
            _mount_hugetlbfs(mount, page_kb)
            mounted = mount
    if got < pages:
        raise OSError(
            errno.ENOMEM,
            f"asked for {pages} x {format_size(page)} hugepages, the kernel gave {got}: memory "
            "is too fragmented; try again, after `echo 3 > /proc/sys/vm/drop_caches` and "
            "`echo 1 > /proc/sys/vm/compact_memory`, or at boot (hugepages= on the kernel "
            "command line)")
    return {"asked": pages, "got": got, "page_kb": page_kb, "mounted": mounted}


def report(st: dict | None = None) -> str:
    """status() as text."""
    st = status() if st is None else st
    lines = []
    if not st["sizes"]:
        return "this kernel offers no hugepages (no /sys/kernel/mm/hugepages)"
    for kb, e in st["sizes"].items():
        size = format_size(kb * 1024)
        total = f" ({format_size(e['total'] * kb * 1024)})" if e["total"] else ""
        lines.append(f"{size} pages: {e['total']} reserved{total}, {e['free']} free, "
                     f"{e['reserved']} promised to mappings, {e['surplus']} surplus")
    if st["mounts"]:
        for m in st["mounts"]:
            lines.append(f"hugetlbfs mounted at {m['path']} ({format_size(m['page_kb'] * 1024)} pages)")
    else:
        lines.append("no hugetlbfs mounted (`netchan hugepages --reserve 256M` mounts one at "
                     f"{DEFAULT_MOUNT})")
    total_free = sum(e["free"] for e in st["sizes"].values())
    if total_free == 0:
        lines.append("no free hugepages: netchan and DPDK use normal pages (DPDK with "
                     "--no-huge); reserve some with `netchan hugepages --reserve 256M` (root)")
    return "\n".join(lines)
