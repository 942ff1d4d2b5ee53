"""netchan's own AF_XDP port (`xdp:IFACE`): the control plane.

Everything here runs once per port: `open_port` checks the interface and
the parameters, asks the cffi module netchan._xdp (builders/xdp/ncxsk.c) to
build the UMEM, the four rings and the socket (libxdp loads its default
redirect program), and hands the nc_port it filled to the Cython core, which
calls its rx/tx bursts without the GIL. See docs/xdp.md.

    stack = netchan.Stack("xdp:veth1?mode=copy", ip="198.18.0.2/15")

Ownership: `XskSocket` owns the C port (freed by cffi's gc when the object
is collected); the Cython `XdpPort` holds the XskSocket, so the nc_port
pointer stays valid while the port exists. Closing deletes the socket
(libxdp detaches the program with the last socket) and unmaps the UMEM.
"""
from __future__ import annotations

import errno
import os
import time

from netchan.uri import XDP_MODES

try:
    from netchan._xdp import ffi, lib
except ImportError:     # built without libxdp/libbpf
    ffi = lib = None

DEFAULT_FRAMES = 8192       # 32 MiB of UMEM
DEFAULT_RING = 2048
FRAME_SIZE = 4096
# a frame holds struct nc_buf (64 B) and the kernel's XDP headroom (256 B)
MAX_FRAME = FRAME_SIZE - 64 - 256
# an open that finds the queue busy tries again this often, this far apart
# (another process attaching libxdp's program to the interface just then)
OPEN_BUSY_RETRIES = 20
OPEN_BUSY_WAIT_S = 0.025
INSTALL_HINT = ("netchan was built without AF_XDP support: install libxdp and libbpf "
                "(Debian: apt-get install libxdp-dev libbpf-dev pkg-config) and rebuild "
                "(python3 setup.py build_ext --inplace)")


class XdpError(OSError):
    """An AF_XDP set-up step failed; the message says what to do."""


def available() -> bool:
    return lib is not None


def _sysfs(iface: str, name: str) -> str:
    with open(f"/sys/class/net/{iface}/{name}") as f:
        return f.read().strip()


def _interface(iface: str):
    """(MTU, MAC bytes, number of rx queues) of iface, or XdpError."""
    if not iface or "/" in iface or len(iface) > 15:
        raise XdpError(errno.EINVAL, f"xdp:{iface}: not an interface name")
    try:
        mtu = int(_sysfs(iface, "mtu"))
        mac = bytes.fromhex(_sysfs(iface, "address").replace(":", ""))
        flags = int(_sysfs(iface, "flags"), 16)
    except FileNotFoundError:
        raise XdpError(errno.ENODEV, f"xdp:{iface}: no such interface in this network "
                       "namespace (ip link shows the ones there are)") from None
    try:
        queues = len([q for q in os.listdir(f"/sys/class/net/{iface}/queues")
                      if q.startswith("rx-")])
    except OSError:
        queues = 1
    if len(mac) != 6:
        raise XdpError(errno.EINVAL, f"xdp:{iface}: not an Ethernet interface (address {mac.hex()})")
    if not flags & 0x1:
        raise XdpError(errno.ENETDOWN, f"xdp:{iface}: the interface is down: bring it up "
                       f"(ip link set {iface} up)")
    return mtu, mac, max(queues, 1)


class XskSocket:
    """One AF_XDP socket with its UMEM, as a C nc_port."""

    def __init__(self, iface: str, *, mtu=None, mode="auto", qid=0, nbufs=None, ring=None,
                 need_wakeup=True):
        if lib is None:
            raise XdpError(errno.ENOSYS, INSTALL_HINT)
        if mode not in XDP_MODES:
            raise ValueError(f"mode={mode!r}: use one of {', '.join(XDP_MODES)}")
        if_mtu, mac, queues = _interface(iface)
        if qid >= queues:
            raise XdpError(errno.EINVAL, f"xdp:{iface}: qid={qid} but the interface has "
                           f"{queues} rx queue(s) (0..{queues - 1})")
        mtu = if_mtu if mtu is None else int(mtu)
        if mtu > if_mtu:
            raise XdpError(errno.EINVAL, f"xdp:{iface}: mtu={mtu} is above the interface's "
                           f"{if_mtu}; raise it (ip link set {iface} mtu {mtu}) or ask for less")
        if mtu + 14 > MAX_FRAME:
            raise XdpError(errno.EINVAL, f"xdp:{iface}: mtu={mtu} does not fit a 4 KiB UMEM "
                           f"frame (at most {MAX_FRAME - 14}); lower the MTU")
        if mtu < 576:
            raise XdpError(errno.EINVAL, f"xdp:{iface}: mtu={mtu} is below IPv4's 576")
        ring = DEFAULT_RING if ring is None else int(ring)
        nbufs = max(DEFAULT_FRAMES, 4 * ring) if nbufs is None else int(nbufs)
        if nbufs < 2 * ring:
            raise XdpError(errno.EINVAL, f"xdp:{iface}: bufs={nbufs} is too few for ring={ring}: "
                           f"give at least {2 * ring} frames (the fill ring alone takes {ring})")
        self.iface = iface
        self.mode_asked = mode
        self.qid = qid
        cfg = ffi.new("struct netchan_xsk_config *")
        name = ffi.new("char[]", iface.encode())
        cfg.ifname = name
        cfg.queue_id = qid
        cfg.nframes = nbufs
        cfg.ring_size = ring
        cfg.mode = getattr(lib, f"NETCHAN_XSK_MODE_{mode.upper()}")
        cfg.mtu = mtu
        cfg.need_wakeup = int(bool(need_wakeup))
        for i in range(6):
            cfg.mac[i] = mac[i]
        err = ffi.new("char[]", 512)
        code = ffi.new("int *")
        # Stacks on several queues of one interface opened at the same moment
        # (run_per_core) race to attach libxdp's program: the loser's attach
        # says EBUSY, and a moment later finds the program there and shares
        # it. A queue another socket really holds stays busy through the
        # retries and is refused with the same message.
        for attempt in range(OPEN_BUSY_RETRIES + 1):
            p = lib.netchan_xsk_open(cfg, code, err, 512)
            if p != ffi.NULL or code[0] != errno.EBUSY or attempt == OPEN_BUSY_RETRIES:
                break
            time.sleep(OPEN_BUSY_WAIT_S)
        if p == ffi.NULL:
            raise XdpError(code[0], f"xdp:{iface}: {ffi.string(err).decode(errors='replace')}"
                           f"{_hint(code[0], mode, iface)}")
        self._p = ffi.gc(p, lib.netchan_xsk_free)
        self.closed = False

    @property
    def nc_port_address(self) -> int:
        return 0 if self.closed else int(ffi.cast("uintptr_t", self._p))

    @property
    def rx_ready_address(self) -> int:
        return int(ffi.cast("uintptr_t", ffi.addressof(lib, "netchan_xsk_rx_ready")))

    def info(self) -> dict:
        out = ffi.new("struct netchan_xsk_info *")
        lib.netchan_xsk_info(self._p, out)
        d = {f: getattr(out, f) for f in dir(out)}
        mode = "skb" if d.pop("skb_mode") else ("zerocopy" if d["zerocopy"] else "copy")
        d["mode"] = mode
        return d

    def counters(self) -> dict:
        """The port's own counters, as `stats()` shows them (xdp_*)."""
        d = self.info()
        out = {"xdp_" + k: v for k, v in d.items() if not k.startswith("xdp_")
               and k not in ("fd", "mode", "zerocopy", "need_wakeup")}
        out.update({k: v for k, v in d.items() if k.startswith("xdp_")})
        out["xdp_zerocopy"] = d["zerocopy"]
        return out

    def problems(self) -> list:
        """What went wrong so far, each with what to do about it ([] if nothing)."""
        if self.closed:
            return []
        d = self.info()
        out = []
        if d["xdp_rx_ring_full"]:
            out.append(f"{d['xdp_rx_ring_full']} frames were dropped by the kernel because the "
                       "rx ring was full: poll more often or raise ring=")
        if d["xdp_rx_dropped"]:
            out.append(f"{d['xdp_rx_dropped']} frames were dropped by the kernel (too long for a "
                       "4 KiB UMEM frame, or no fill-ring frame): lower the peer's MTU or raise bufs=")
        if d["xdp_rx_invalid_descs"] or d["xdp_tx_invalid_descs"] or d["tx_invalid"]:
            out.append(f"invalid descriptors: rx {d['xdp_rx_invalid_descs']}, tx "
                       f"{d['xdp_tx_invalid_descs']}, refused buffers {d['tx_invalid']}: a bug, "
                       "please report it")
        return out

    def close(self):
        if not self.closed:
            self.closed = True
            lib.netchan_xsk_close(self._p)


def _hint(code: int, mode: str, iface: str) -> str:
    if code == errno.EPERM:
        return ("; AF_XDP needs CAP_NET_RAW and CAP_BPF (or CAP_SYS_ADMIN) and enough "
                "locked memory: run as root")
    if code == errno.EOPNOTSUPP and mode == "zerocopy":
        return (f"; {iface}'s driver has no AF_XDP zero-copy: use mode=copy (or auto)")
    if code == errno.EOPNOTSUPP and mode == "copy":
        return f"; {iface}'s driver has no native XDP: use mode=skb (or auto)"
    if code == errno.EBUSY:
        return (f"; another XDP program or socket holds {iface}'s queue: "
                f"close it (ip link set {iface} xdp off removes a stale program)")
    return ""
