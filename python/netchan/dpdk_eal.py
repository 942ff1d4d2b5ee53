"""DPDK's Environment Abstraction Layer (EAL) for netchan.dpdk: whether this
build has DPDK, which drivers it can load, and the EAL's life cycle (its
arguments, hugepages, start and clean-up at exit). netchan.dpdk re-exports
everything here; the devices themselves are there.

EAL arguments
-------------
The EAL can be initialised once per process. `init(args)` does it
explicitly; otherwise the first port opened does it with `eal=` from its URI
or, without one, with these defaults:

    --file-prefix=netchan-PID --lcores=0@(CPUS) --no-telemetry --log-level=warning
    + with >= 64 MiB of free 2 MiB hugepages:  --in-memory
      without:                                  --no-huge -m 256 --no-shconf
    + for a PCI target: -a ADDRESS, else: --no-pci

`--lcores=0@(CPUS)` keeps the process's CPU affinity as it was (EAL would
otherwise pin the calling thread to one core). A later port with no `eal=`
reuses the running EAL; one whose `eal=` differs is refused (ask for the same
arguments, or use another process).
"""
from __future__ import annotations

import atexit
import errno
import os
import re
import threading
import weakref

try:
    from netchan._dpdk import ffi, lib
except ImportError:     # built without DPDK (no libdpdk at build time)
    ffi = lib = None

HUGEPAGE_DEFAULT_MIN = 64 << 20     # free hugepage bytes below which defaults use --no-huge

_PCI_ADDRESS = re.compile(r"^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


class DpdkError(RuntimeError):
    """A DPDK set-up step failed; the message says what to do."""


class DpdkUnavailable(DpdkError):
    """netchan was built without DPDK."""


class HugepagesError(DpdkError):
    """The EAL was asked to use hugepages but none are free."""


class EalInitError(DpdkError):
    """rte_eal_init failed."""


class EalAlreadyInitialized(DpdkError):
    """The EAL is running with other arguments than asked for."""


class PortNotFound(DpdkError, LookupError):
    """No ethdev by that name, and none could be created."""


# ---- features and drivers -----------------------------------------------------

def available() -> bool:
    """True when netchan was built with DPDK."""
    return lib is not None


def _require():
    if lib is None:
        raise DpdkUnavailable(
            "netchan was built without DPDK (pkg-config libdpdk was not found when it "
            "was built): install it (Debian: apt-get install libdpdk-dev pkg-config) and "
            "rebuild netchan (python setup.py build_ext --inplace, or pip install .)")


def features() -> dict:
    """What this build of the binding offers (flags set at compile time)."""
    if lib is None:
        return {"dpdk": False}
    return {
        "dpdk": True,
        "version": ffi.string(lib.rte_version()).decode(),
        "link_to_str": bool(lib.NETCHAN_HAS_LINK_TO_STR),
        "rxmode_mtu": bool(lib.NETCHAN_HAS_RXMODE_MTU),
        "pktmbuf_free_bulk": bool(lib.NETCHAN_HAS_PKTMBUF_FREE_BULK),
        "runtime_dir": bool(lib.NETCHAN_HAS_RUNTIME_DIR),
        "pmd_path": ffi.string(lib.NETCHAN_EAL_PMD_PATH).decode(),
    }


def drivers() -> list:
    """Names of the net drivers this DPDK can load (net_memif, net_ring, ...);
    [] when drivers are linked in and cannot be listed."""
    if lib is None:
        return []
    path = ffi.string(lib.NETCHAN_EAL_PMD_PATH).decode()
    try:
        names = os.listdir(path)
    except OSError:
        return []
    out = set()
    for n in names:
        m = re.match(r"^librte_net_(\w+)\.so$", n)
        if m:
            out.add("net_" + m.group(1))
    return sorted(out)


# ---- EAL -------------------------------------------------------------------------

_lock = threading.RLock()
_eal_args = None            # the arguments the EAL runs with, once initialised
_runtime_dir = None         # its runtime directory, removed at exit when empty
_devices = weakref.WeakSet()


def is_pci_address(target: str) -> bool:
    return bool(_PCI_ADDRESS.match(target.split(",", 1)[0]))


def _free_hugepage_bytes() -> int:
    from netchan import hugepages
    return hugepages.free_bytes()


def default_eal_args(target: str | None = None) -> list:
    """The EAL arguments used when none are given (see the module docstring)."""
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    args = [f"--file-prefix=netchan-{os.getpid()}", f"--lcores=0@({cpus})",
            "--no-telemetry", "--log-level=warning"]
    if _free_hugepage_bytes() >= HUGEPAGE_DEFAULT_MIN:
        args.append("--in-memory")
    else:
        args += ["--no-huge", "-m", "256", "--no-shconf"]
    if target is not None and is_pci_address(target):
        args += ["-a", target.split(",", 1)[0]]
    else:
        args.append("--no-pci")
    return args


def parse_eal_param(text: str) -> list:
    """`eal=` of a URI: arguments separated by spaces ('+' in a URL), or by
    commas when there is no space (`--no-huge,-m,256`). Use spaces when an
    argument itself holds a comma (`--vdev=net_memif0,role=server`)."""
    import shlex
    text = text.strip()
    if not text:
        return []
    if any(c.isspace() for c in text):
        return shlex.split(text)
    return [a for a in text.split(",") if a]


def eal_args():
    """The arguments the EAL runs with in this process, or None."""
    return None if _eal_args is None else list(_eal_args)


def _check_hugepages(args):
    from netchan import hugepages
    if "--no-huge" in args or any(a.startswith("--huge-dir") for a in args):
        return
    if _free_hugepage_bytes() > 0:
        if "--in-memory" not in args and not hugepages.mounts():
            raise HugepagesError(
                "hugepages are free but no hugetlbfs is mounted for DPDK's files: run "
                "`netchan hugepages --reserve 256M` (as root; it mounts /dev/hugepages), or "
                "add --in-memory to the EAL arguments")
        return
    raise HugepagesError(
        "DPDK was asked to use hugepages but none are free: reserve some with "
        "`netchan hugepages --reserve 256M` (as root), or run without them by adding "
        "--no-huge -m 256 to the EAL arguments (URI: ?eal=--no-huge,-m,256)")


def init(args=None, *, target=None) -> list:
    """Start the EAL with `args` (a list of strings, without the program
    name), or the defaults when None. Returns the arguments in use.

    Once per process: calling again with the same arguments (or None) does
    nothing; different arguments raise EalAlreadyInitialized."""
    global _eal_args, _runtime_dir
    _require()
    with _lock:
        if _eal_args is not None:
            if args is not None and list(args) != _eal_args:
                raise EalAlreadyInitialized(
                    f"the DPDK EAL is already initialised in this process with {_eal_args}; "
                    f"it can be initialised only once per process, so {list(args)} cannot "
                    "apply: open every dpdk: port with the same eal= (or none, to reuse it), "
                    "or use another process")
            return list(_eal_args)
        args = default_eal_args(target) if args is None else [str(a) for a in args]
        _check_hugepages(args)
        argv_keep = [ffi.new("char[]", a.encode()) for a in ["netchan", *args]]
        argv = ffi.new("char *[]", argv_keep + [ffi.NULL])
        lib.netchan_log_to_stderr()
        rc = lib.rte_eal_init(len(argv_keep), argv)
        if rc < 0:
            err = lib.netchan_rte_errno()
            hint = ""
            if err == errno.EALREADY:
                hint = (" (the EAL was initialised in this process by something else: netchan "
                        "cannot take it over)")
            elif err == errno.EACCES:
                hint = " (hugepages or /dev/vfio need root: run as root, or add --no-huge)"
            elif err == errno.EINVAL:
                hint = " (see the EAL's message above for the argument it refused)"
            elif err == errno.ENOMEM:
                hint = (" (not enough memory: reserve hugepages with `netchan hugepages "
                        "--reserve 256M`, or use --no-huge -m 256)")
            raise EalInitError(f"rte_eal_init({' '.join(args)}) failed: "
                               f"{_rte_strerror(err)}{hint}")
        _eal_args = list(args)
        if lib.NETCHAN_HAS_RUNTIME_DIR:
            p = lib.netchan_runtime_dir()
            _runtime_dir = ffi.string(p).decode() if p != ffi.NULL else None
        atexit.register(_at_exit)
        return list(_eal_args)


def initialized() -> bool:
    return _eal_args is not None


def _rte_strerror(err: int) -> str:
    return ffi.string(lib.rte_strerror(err)).decode(errors="replace")


def _at_exit():
    for dev in list(_devices):
        try:
            dev.close()
        except Exception:   # noqa: BLE001 - best effort at exit
            pass
    # Give the EAL's memory back (and unlink its hugepage files, if any).
    lib.rte_eal_cleanup()
    # The EAL leaves an empty runtime directory behind with --no-shconf.
    if _runtime_dir:
        try:
            os.rmdir(_runtime_dir)
        except OSError:
            pass
