"""DPDK control plane: devices, their queues and pools (the EAL: dpdk_eal).

Everything here runs once per port, never per packet: `open_port` configures
an ethdev, builds an index-addressable mbuf pool, and hands the nc_port that
the cffi module filled (its rx/tx burst functions compiled in C) to the
Cython core, which calls through it one burst at a time without the GIL.

    port = netchan.dpdk.open_port("net_ring0")                 # no root, no hugepages
    stack = netchan.Stack("dpdk:net_memif0,role=server,socket=/tmp/nc.sock", ip=...)

The EAL (its arguments, hugepages, once per process) is netchan.dpdk_eal,
re-exported here.

Ownership
---------
`Device` owns the ethdev (configured, started, closed by it), the mempool,
and the C struct netchan_dpdk_port (whose first member is the nc_port the
stack calls through; freed by cffi's gc when the Device is collected).
The Cython `DpdkPort` keeps its Device alive, so the nc_port pointer it
holds is valid for as long as the DpdkPort exists. Closing retires the port
first (every vtable call returns at once), then stops and closes the ethdev
and frees the pool.
"""
from __future__ import annotations

import errno
import itertools
import os
import re

from netchan.dpdk_eal import (  # noqa: F401  (re-exported: the EAL and errors)
    HUGEPAGE_DEFAULT_MIN, DpdkError, DpdkUnavailable, EalAlreadyInitialized, EalInitError,
    HugepagesError, PortNotFound, _devices, _require, _rte_strerror, available, default_eal_args,
    drivers, eal_args, features, ffi, init, initialized, is_pci_address, lib, parse_eal_param)

# Structs the binding shares with C (declared to cffi from the headers, see
# builders/dpdk/netchan_types.py). cffi checks a complete struct's offsets
# against the C compiler's when the type is first used: use them now, so a
# header and a binding that disagree fail at import, not mid-run.
SHARED_STRUCTS = ("struct nc_buf", "struct nc_pool", "struct nc_port_ops",
                  "struct nc_port_stats", "struct nc_port", "struct netchan_dpdk_port",
                  "struct netchan_dpdk_pool_info", "struct netchan_eth_link")
if ffi is not None:
    for _t in SHARED_STRUCTS:
        ffi.sizeof(_t)
    del _t

DEFAULT_NBUFS = 8192
DEFAULT_RXD = 1024
DEFAULT_TXD = 1024
MEMPOOL_CACHE = 256
MEMIF_CONNECT_TIMEOUT = 10.0        # seconds a memif client waits for its server
MEMIF_RECONNECT_INTERVAL = 1.0      # seconds before a memif client tries again

from netchan.dpdk_drivers import (  # noqa: E402  (what netchan knows of particular PMDs)
    AF_PACKET, AF_XDP, PARTIAL_CSUM_DRIVERS, RX_CSUM_OFFLOADS, TX_OFFLOADS, XDP_PACKET_HEADROOM,
    _driver_defaults, _socket_fds, _vdev_driver, check_queue_driver, tso_by_default, tso_limits)

_pool_serial = itertools.count(1)     # makes mempool names unique within the process


# ---- ports --------------------------------------------------------------------

def _port_name(port_id: int) -> str:
    buf = ffi.new("char[]", lib.RTE_ETH_NAME_MAX_LEN)
    if lib.rte_eth_dev_get_name_by_port(port_id, buf) != 0:
        return f"port{port_id}"
    return ffi.string(buf).decode()


def _mac_of(port_id: int) -> str:
    mac = ffi.new("struct rte_ether_addr *")
    if lib.rte_eth_macaddr_get(port_id, mac) != 0:
        return "?"
    return ":".join(f"{b:02x}" for b in mac.addr_bytes)


def ports() -> list:
    """Every ethdev the running EAL knows: [{id, name, driver, mac, link_up}]."""
    _require()
    out = []
    if not initialized():
        return out
    pid = lib.rte_eth_find_next(0)
    while pid < lib.RTE_MAX_ETHPORTS:
        info = ffi.new("struct rte_eth_dev_info *")
        drv = "?"
        if lib.rte_eth_dev_info_get(pid, info) == 0 and info.driver_name != ffi.NULL:
            drv = ffi.string(info.driver_name).decode()
        link = ffi.new("struct netchan_eth_link *")
        lib.netchan_eth_link_get(pid, link)
        out.append({"id": pid, "name": _port_name(pid), "driver": drv, "mac": _mac_of(pid),
                    "link_up": bool(link.up)})
        pid = lib.rte_eth_find_next(pid + 1)
    return out


def _lookup(name: str):
    pid = ffi.new("uint16_t *")
    if lib.rte_eth_dev_get_port_by_name(name.encode(), pid) == 0:
        return pid[0]
    return None


def _not_found(name: str, why: str) -> PortNotFound:
    present = ", ".join(f"{p['name']} ({p['driver']})" for p in ports()) or "none"
    drv = ", ".join(drivers()) or "(drivers linked in: not listable)"
    return PortNotFound(
        f"DPDK port {name!r} not found: {why}. Ports present: {present}. A dpdk: port is a "
        f"vdev name plus its arguments (dpdk:net_ring0, dpdk:net_memif0,role=server,"
        f"socket=/tmp/x.sock, dpdk:net_af_packet0,iface=veth0) or the PCI address of a NIC "
        f"bound to vfio-pci (dpdk:0000:03:00.0). Net drivers here: {drv}")


class Device:
    """One ethdev with one rx and one tx queue, a pool, and the nc_port over
    them. Use open_port() for a netchan Port; this is its control side."""

    def __init__(self, devargs: str, *, nbufs=None, rxd=None, txd=None, mtu=None,
                 promisc=False, eal=None, offload=True, queue=None, tso=None):
        _require()
        if not devargs or not isinstance(devargs, str):
            raise ValueError(f"dpdk: needs a device, e.g. net_ring0 (got {devargs!r})")
        self.closed = True
        self.offload = bool(offload)
        self.tso_wanted = tso   # None: where the driver has it (dpdk_drivers.tso_by_default);
                                # False: never; True: insist
        self.queue = None if queue is None or queue[1] == 1 else tuple(queue)
        self.steer_drained = 0
        self.devargs = devargs
        self.name, _, self.drvargs = devargs.partition(",")
        if is_pci_address(self.name) and self.name.count(":") == 1:
            self.name = "0000:" + self.name     # the ethdev's name carries the domain
        self.nbufs = DEFAULT_NBUFS if nbufs is None else int(nbufs)
        self.rxd = DEFAULT_RXD if rxd is None else int(rxd)
        self.txd = DEFAULT_TXD if txd is None else int(txd)
        if not 64 <= self.nbufs <= (1 << 24):
            raise ValueError(f"bufs={self.nbufs}: must be in 64..16777216")
        for what, n in (("rxd", self.rxd), ("txd", self.txd)):
            if not 16 <= n <= 32768:
                raise ValueError(f"{what}={n}: descriptors per queue must be in 16..32768")
        if self.nbufs < self.rxd + self.txd + 512:
            raise ValueError(
                f"bufs={self.nbufs} is too few for rxd={self.rxd} + txd={self.txd} descriptors "
                f"plus the stack's own buffers: use at least {self.rxd + self.txd + 512}")
        if self.queue is not None:
            check_queue_driver(self.name, self.drvargs)
        init(eal, target=devargs)
        self._hotplugged = None
        self._packet_sockets = set()
        self._mempool = ffi.NULL
        self._dp = None
        self._started = False
        self.port_id = None
        try:
            self.port_id = self._attach()
            self._setup(mtu, promisc)
        except BaseException:
            self._teardown()
            raise
        self.closed = False
        _devices.add(self)

    # ---- set-up ----

    def _attach(self) -> int:
        pid = _lookup(self.name)
        if pid is not None and self.queue is not None:
            raise ValueError(f"dpdk:{self.devargs}?queue={self.queue[0]}/{self.queue[1]}: the "
                             f"device exists already (made by the EAL's --vdev?), so its socket "
                             f"cannot be given its queue's filter: leave it out of eal=")
        if pid is not None:
            for dev in _devices:
                if not dev.closed and dev.port_id == pid:
                    raise OSError(errno.EBUSY, f"DPDK port {self.name} is already open in this "
                                               "process; close it first")
            # Made by the EAL's own arguments (--vdev, a probed NIC): ours to
            # close and unplug from now on, like one we plug ourselves.
            self._hotplugged = ("pci" if is_pci_address(self.name) else "vdev", self.name)
            return pid
        drv = None
        if is_pci_address(self.name):
            bus = "pci"
            if "--no-pci" in (eal_args() or []):
                raise _not_found(self.name, "the EAL runs with --no-pci (a non-PCI port was "
                                            "opened first): open the PCI port first, or pass "
                                            "eal= without --no-pci")
        else:
            bus = "vdev"
            drv = _vdev_driver(self.name)
        self.drvargs = _driver_defaults(drv, self.drvargs)
        packet_before = _socket_fds(AF_PACKET) if drv == "net_af_packet" else None
        rc = lib.rte_eal_hotplug_add(bus.encode(), self.name.encode(), self.drvargs.encode())
        if rc < 0:
            why = (f"hot-plugging {bus} device {self.devargs!r} failed: {_rte_strerror(-rc)}")
            known = drivers()
            if drv is not None and known and drv not in known:
                # a hint only: some drivers live in a library of another name
                # (net_virtio_user in librte_net_virtio)
                why += f"; there seems to be no DPDK driver {drv!r}"
            else:
                why += " (see the driver's message above)"
            raise _not_found(self.name, why)
        self._hotplugged = (bus, self.name)
        pid = _lookup(self.name)
        if pid is None:
            lib.rte_eal_hotplug_remove(bus.encode(), self.name.encode())
            self._hotplugged = None
            raise _not_found(self.name, f"{bus} device {self.name!r} was probed but made no "
                                        "ethdev by that name")
        if packet_before is not None:
            self._packet_sockets = _socket_fds(AF_PACKET) - packet_before
            if self.queue is not None:
                self._steer(self._packet_sockets)
        return pid

    def _steer(self, fds):
        """queue=K/N on net_af_packet: the PMD's packet socket gets netchan's
        steering filter (netchan.steer.afpacket_filter, as an afpacket:
        port's), so this process sees only its queue's flows. The socket
        was bound at probe: what reached it before the filter is drained
        once the device has started (steer_drained)."""
        from netchan import steer
        k, n = self.queue
        if len(fds) != 1:
            raise DpdkError(f"dpdk:{self.devargs}?queue={k}/{n}: expected the driver to open "
                            f"one packet socket, found {len(fds)}")
        code = steer.pack_filter(steer.afpacket_filter(k, n))
        rc = lib.netchan_attach_filter(next(iter(fds)), code, len(code))
        if rc < 0:
            raise OSError(-rc, f"dpdk:{self.devargs}?queue={k}/{n}: the kernel refused the "
                               f"steering filter: {os.strerror(-rc)}")

    def _check(self, rc, what):
        if rc < 0:
            raise DpdkError(f"DPDK port {self.name} (id {self.port_id}): {what} failed: "
                            f"{_rte_strerror(-rc)}")
        return rc

    def _setup(self, mtu, promisc):
        pid = self.port_id
        info = ffi.new("struct rte_eth_dev_info *")
        self._check(lib.rte_eth_dev_info_get(pid, info), "rte_eth_dev_info_get")
        self.driver = ffi.string(info.driver_name).decode() if info.driver_name else "?"
        self.max_mtu = info.max_mtu
        cur = ffi.new("uint16_t *")
        self._check(lib.rte_eth_dev_get_mtu(pid, cur), "rte_eth_dev_get_mtu")
        want_mtu = int(mtu) if mtu is not None else int(cur[0])
        if not 68 <= want_mtu <= 65535:
            raise ValueError(f"mtu={want_mtu}: must be in 68..65535")
        if info.max_mtu and want_mtu > info.max_mtu:
            raise ValueError(f"mtu={want_mtu}: {self.driver} allows at most {info.max_mtu}")
        socket = lib.rte_eth_dev_socket_id(pid)
        if socket < 0:
            socket = lib.SOCKET_ID_ANY
        queue_socket = socket & 0xffffffff      # the queue calls take it unsigned
        # frame = Ethernet header + IP MTU (+ a VLAN tag of slack), or what the
        # driver says its rx buffers need, whichever is larger
        frame_room = max(want_mtu + 18, info.min_rx_bufsize)
        if self.driver == "net_af_packet":
            # it copies whole TPACKET ring frames (framesz=, 2048 by default)
            m = re.search(r"(?:^|,)framesz=(\d+)", self.drvargs)
            frame_room = max(frame_room, int(m.group(1)) if m else 2048)
        elif self.driver == "net_af_xdp":
            # 22.11's af_xdp makes each mbuf one UMEM chunk (chunk = mempool
            # object, headroom = everything before the mbuf's data), and the
            # kernel adds XDP_PACKET_HEADROOM before the frame. A frame longer
            # than what is left is dropped by the kernel and seen only as
            # `imissed` (rx_dropped of the XSK): with 2 KiB objects that was
            # 1408 bytes, so MTU-sized TCP segments never arrived.
            frame_room += XDP_PACKET_HEADROOM
        self._make_pool(frame_room, socket)
        if self.driver == "net_af_xdp":
            self._check_af_xdp_chunk(want_mtu)
        conf = ffi.new("struct rte_eth_conf *")
        self._choose_offloads(info, conf)
        if mtu is not None:
            lib.netchan_eth_conf_set_mtu(conf, want_mtu)
        self._check(lib.rte_eth_dev_configure(pid, 1, 1, conf), "rte_eth_dev_configure")
        if mtu is not None and not lib.NETCHAN_HAS_RXMODE_MTU:
            self._check(lib.rte_eth_dev_set_mtu(pid, want_mtu), f"setting MTU {want_mtu}")
        xsk_before = _socket_fds(AF_XDP) if self.driver == "net_af_xdp" else None
        nrx = ffi.new("uint16_t *", self.rxd)
        ntx = ffi.new("uint16_t *", self.txd)
        self._check(lib.rte_eth_dev_adjust_nb_rx_tx_desc(pid, nrx, ntx),
                    "rte_eth_dev_adjust_nb_rx_tx_desc")
        self.rxd, self.txd = nrx[0], ntx[0]
        for attempt in range(3):
            rc = lib.rte_eth_rx_queue_setup(pid, 0, self.rxd, queue_socket, ffi.NULL,
                                            self._mempool)
            if rc != -errno.ENOMEM or attempt == 2:
                break
            # Some drivers want larger mbufs than the MTU needs (net_af_packet
            # copies whole 2 KiB ring frames) and say only ENOMEM: try the next
            # size up (strides are powers of two).
            frame_room = self.pool_info()["data_room"] + 1
            lib.rte_mempool_free(self._mempool)
            self._mempool = ffi.NULL
            self._make_pool(frame_room, socket)
        self._check(rc, "rte_eth_rx_queue_setup")
        self._check(lib.rte_eth_tx_queue_setup(pid, 0, self.txd, queue_socket, ffi.NULL),
                    "rte_eth_tx_queue_setup")
        if promisc:
            self._check(lib.rte_eth_promiscuous_enable(pid), "rte_eth_promiscuous_enable")
        self._start()
        err = ffi.new("char[]", 512)
        dp = lib.netchan_dpdk_port_new(pid, 0, self._mempool, err, 512)
        if dp == ffi.NULL:
            raise DpdkError(f"DPDK port {self.name}: {ffi.string(err).decode()}")
        self._dp = ffi.gc(dp, lib.netchan_dpdk_port_free)
        # drivers that read what a local kernel sends (over a veth) see its
        # offloaded checksums half done: the port recognises them (ncport.c)
        dp.rx_partial_csum = int(self.driver in PARTIAL_CSUM_DRIVERS)
        lib.netchan_dpdk_port_set_tx_csum(dp, int("tcp_cksum" in self.offloads["tx"]))
        if "tcp_tso" in self.offloads["tx"]:
            lim = info.tx_desc_lim
            lib.netchan_dpdk_port_set_tso(dp, 1, *tso_limits(
                self.driver, dp.port.mtu, lim.nb_seg_max or 0xffff, lim.nb_mtu_seg_max or 0xffff))
        # A doorbell where the driver has one socket per queue: an idle stack
        # sleeps on it (readable when a frame waits) instead of napping.
        # net_af_xdp: the XSK its rx queue set-up made; net_af_packet: its
        # packet socket (poll says readable while the TPACKET_V2 ring holds
        # a frame the PMD has not taken).
        wake = []
        if xsk_before is not None:
            wake = sorted(_socket_fds(AF_XDP) - xsk_before)
        elif self.driver == "net_af_packet":
            wake = sorted(self._packet_sockets)
        self.wake_fd = wake[0] if len(wake) == 1 else -1
        if self.wake_fd >= 0:
            lib.netchan_dpdk_port_set_wake_fd(dp, self.wake_fd)
        if not any(dp.port.mac):
            self._assign_mac()
        if self.queue is not None:
            self.steer_drained = lib.netchan_dpdk_port_drain(dp)

    def _choose_offloads(self, info, conf):
        """Turn on the offloads the PMD has (none of them is needed: what is
        missing is done in software). rx: frames the PMD vouches for skip
        the stack's check. tx: the stack leaves TCP checksums out and the PMD
        fills them in; with TSO (and IPv4 checksums, which each cut segment
        needs) runs of segments go out as one chain the PMD cuts (nctso.c).
        offload=0 turns all of it off, tso=0 TSO alone; net_tap's TSO is
        software and slower, so there it takes tso=1 (dpdk_drivers)."""
        have_rx, have_tx = int(info.rx_offload_capa), int(info.tx_offload_capa)
        self.offload_capa = {
            "rx": [n for n, bit in RX_CSUM_OFFLOADS.items() if have_rx & bit],
            "tx": [n for n, bit in TX_OFFLOADS.items() if have_tx & bit]}
        rx = {n: b for n, b in RX_CSUM_OFFLOADS.items() if have_rx & b} if self.offload else {}
        tx = ({"tcp_cksum": lib.RTE_ETH_TX_OFFLOAD_TCP_CKSUM}
              if self.offload and have_tx & lib.RTE_ETH_TX_OFFLOAD_TCP_CKSUM else {})
        tso_bits = {n: TX_OFFLOADS[n] for n in ("tcp_tso", "ipv4_cksum")}
        tso_here = "tcp_cksum" in tx and all(have_tx & b for b in tso_bits.values())
        if self.tso_wanted and not tso_here:
            missing = [n for n in ("tcp_tso", "tcp_cksum", "ipv4_cksum")
                       if not have_tx & TX_OFFLOADS[n]]
            raise ValueError(
                f"dpdk:{self.devargs}?tso=1: {self.driver} cannot do TSO here ("
                + (f"it lacks tx offload {', '.join(missing)}" if missing else "offload=0")
                + "): leave tso= out to use it where the driver has it, or tso=0")
        if tso_here and (self.tso_wanted or
                         (self.tso_wanted is None and tso_by_default(self.driver))):
            tx.update(tso_bits)
        conf.rxmode.offloads = sum(rx.values())
        conf.txmode.offloads = sum(tx.values())
        self.offloads = {"rx": sorted(rx), "tx": sorted(tx)}

    def _check_af_xdp_chunk(self, mtu):
        """A UMEM chunk is at most a page (unaligned chunk mode): say which
        MTU fits instead of a socket that silently drops big frames."""
        page = os.sysconf("SC_PAGESIZE")
        stride = self.pool_info()["stride"]
        if stride > page:
            fits = page - (stride - self.pool_info()["data_room"]) - XDP_PACKET_HEADROOM - 18
            raise ValueError(
                f"mtu={mtu}: net_af_xdp puts each frame in one {page}-byte UMEM chunk, with "
                f"room for an MTU of at most {fits}; use mtu={fits} or less")

    def _start(self):
        if self.driver == "net_memif" and "role=client" in self.drvargs:
            self._start_memif_client()
            return
        self._check(lib.rte_eth_dev_start(self.port_id), "rte_eth_dev_start")
        self._started = True

    def _start_memif_client(self):
        """A memif client connects once, when started, and never again: its
        start fails if the server is not listening yet, and a connection the
        server takes before its own start is refused, leaving the link down
        for good. So: start, and restart until the link comes up."""
        import time
        deadline = time.monotonic() + MEMIF_CONNECT_TIMEOUT
        while True:
            rc = lib.rte_eth_dev_start(self.port_id)
            if rc == 0:
                self._started = True
                if self.wait_link_up(MEMIF_RECONNECT_INTERVAL):
                    return
                lib.rte_eth_dev_stop(self.port_id)
                self._started = False
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        raise DpdkError(
            f"DPDK port {self.name}: the memif client found no server within "
            f"{MEMIF_CONNECT_TIMEOUT:.0f} s ({self.devargs}): start the role=server end with "
            "the same socket= (memif sockets are abstract by default: both ends must be in "
            "the same network namespace, or pass socket-abstract=no)")

    def _make_pool(self, frame_room, socket):
        # The name only needs to be unique in this process.
        name = f"netchan{self.port_id}_{next(_pool_serial)}"
        err = ffi.new("char[]", 512)
        self._mempool = lib.netchan_dpdk_pool_create(
            name.encode(), self.nbufs, MEMPOOL_CACHE, frame_room, socket, err, 512)
        if self._mempool == ffi.NULL:
            raise DpdkError(f"DPDK port {self.name}: {ffi.string(err).decode()}")

    def _assign_mac(self):
        """Some vdevs (net_ring, net_null) have no MAC: give the port a
        locally administered one, stable for this process and port."""
        import hashlib
        h = hashlib.blake2s(f"{os.getpid()}:{self.devargs}".encode(), digest_size=3).digest()
        mac = bytes([0x02, 0x6e, 0x64]) + h
        addr = ffi.new("struct rte_ether_addr *")
        addr.addr_bytes = list(mac)
        lib.rte_eth_dev_default_mac_addr_set(self.port_id, addr)  # the driver may refuse: fine
        self._dp.port.mac = list(mac)

    # ---- the nc_port ----

    @property
    def nc_port_address(self) -> int:
        """Address of the struct nc_port the stack calls through (0 if never made)."""
        if self._dp is None:
            return 0
        return int(ffi.cast("uintptr_t", ffi.addressof(self._dp.port)))

    # ---- state ----

    @property
    def mac(self) -> str:
        """The MAC the port sends from (the driver's, or the one netchan gave it)."""
        if self._dp is not None:
            return ":".join(f"{b:02x}" for b in self._dp.port.mac)
        return _mac_of(self.port_id)

    @property
    def mtu(self) -> int:
        cur = ffi.new("uint16_t *")
        self._check(lib.rte_eth_dev_get_mtu(self.port_id, cur), "rte_eth_dev_get_mtu")
        return cur[0]

    def link(self) -> dict:
        """Link state without waiting: {up, speed_mbps, full_duplex, autoneg, text}."""
        self._check_open()
        link = ffi.new("struct netchan_eth_link *")
        self._check(lib.netchan_eth_link_get(self.port_id, link), "rte_eth_link_get_nowait")
        return {"up": bool(link.up), "speed_mbps": link.speed_mbps,
                "full_duplex": bool(link.full_duplex), "autoneg": bool(link.autoneg),
                "text": ffi.string(link.text).decode()}

    def wait_link_up(self, timeout=10.0) -> bool:
        """Poll the link until it is up or timeout seconds pass; returns its state."""
        import time
        deadline = time.monotonic() + timeout
        link = ffi.new("struct netchan_eth_link *")
        while True:
            if lib.netchan_eth_link_get(self.port_id, link) == 0 and link.up:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)

    def eth_stats(self) -> dict:
        """rte_eth_stats_get: the driver's basic counters."""
        self._check_open()
        st = ffi.new("struct rte_eth_stats *")
        self._check(lib.rte_eth_stats_get(self.port_id, st), "rte_eth_stats_get")
        return {k: getattr(st, k) for k in ("ipackets", "opackets", "ibytes", "obytes",
                                            "imissed", "ierrors", "oerrors", "rx_nombuf")}

    def xstats(self) -> dict:
        """rte_eth_xstats_get: the driver's extended counters, by name."""
        self._check_open()
        n = lib.rte_eth_xstats_get_names(self.port_id, ffi.NULL, 0)
        self._check(n, "rte_eth_xstats_get_names")
        names = ffi.new("struct rte_eth_xstat_name[]", n)
        vals = ffi.new("struct rte_eth_xstat[]", n)
        got = self._check(lib.rte_eth_xstats_get_names(self.port_id, names, n),
                          "rte_eth_xstats_get_names")
        got2 = self._check(lib.rte_eth_xstats_get(self.port_id, vals, n), "rte_eth_xstats_get")
        out = {}
        for i in range(min(got, got2, n)):
            out[ffi.string(names[vals[i].id].name).decode()] = vals[i].value
        return out

    def reset_stats(self):
        self._check_open()
        self._check(lib.rte_eth_stats_reset(self.port_id), "rte_eth_stats_reset")
        rc = lib.rte_eth_xstats_reset(self.port_id)
        if rc < 0 and rc != -errno.ENOTSUP:
            self._check(rc, "rte_eth_xstats_reset")

    def pool_info(self) -> dict:
        """The mbuf pool: geometry, free/used counts, page size under it."""
        if self._mempool == ffi.NULL:
            raise ValueError(f"DPDK port {self.name} has no pool (closed)")
        info = ffi.new("struct netchan_dpdk_pool_info *")
        err = ffi.new("char[]", 512)
        if lib.netchan_dpdk_pool_check(self._mempool, info, err, 512) != 0:
            raise DpdkError(ffi.string(err).decode())
        return {"name": ffi.string(lib.netchan_mempool_name(self._mempool)).decode(),
                "count": info.count, "stride": info.stride, "buf_len": info.buf_len,
                "data_room": info.data_room, "chunks": info.chunks,
                "page_size": info.page_size,
                "hugepages": bool(lib.rte_eal_has_hugepages()) and info.page_size > 4096,
                "free": lib.rte_mempool_avail_count(self._mempool),
                "in_use": lib.rte_mempool_in_use_count(self._mempool)}

    def counters(self) -> dict:
        """The port's own drop counters (beyond nc_port.stats)."""
        if self._dp is None:
            return {}
        return {"dpdk_rx_multiseg_dropped": self._dp.rx_multiseg,
                "dpdk_rx_csum_partial": self._dp.rx_csum_partial,
                "dpdk_rx_foreign_dropped": self._dp.rx_foreign,
                "dpdk_tx_invalid": self._dp.tx_invalid,
                "dpdk_wait_poll_failed": self._dp.wait_poll_failed,
                "dpdk_rx_csum_good": self._dp.rx_csum_good,
                "dpdk_rx_csum_bad": self._dp.rx_csum_bad,
                "dpdk_tx_csum_offloaded": self._dp.tx_csum_offloaded,
                "dpdk_tx_tso_packets": self._dp.tx_tso_packets,
                "dpdk_tx_tso_segments": self._dp.tx_tso_segments}

    def _check_open(self):
        if self.closed:
            raise ValueError(f"DPDK port {self.name} is closed")

    # ---- stop, start, tear-down ----

    def stop(self):
        """Stop the ethdev; the port is inert (sends nothing, receives
        nothing, link down) until start()."""
        self._check_open()
        if self._started:
            lib.netchan_dpdk_port_pause(self._dp)
            self._check(lib.rte_eth_dev_stop(self.port_id), "rte_eth_dev_stop")
            self._started = False

    def start(self):
        """Start the ethdev again after stop()."""
        self._check_open()
        if not self._started:
            self._start()
            lib.netchan_dpdk_port_resume(self._dp)

    @property
    def started(self) -> bool:
        return self._started


    def close(self):
        """Retire the nc_port, stop and close the ethdev (and unplug it if we
        plugged it), free the pool. Idempotent."""
        if self.closed:
            return
        self.closed = True
        _devices.discard(self)
        self._teardown()

    def _teardown(self):
        if self._dp is not None:
            lib.netchan_dpdk_port_retire(self._dp)
            if self._started:
                lib.netchan_dpdk_port_drain(self._dp)
        if self._started:
            lib.rte_eth_dev_stop(self.port_id)
            self._started = False
        if self.port_id is not None:
            lib.rte_eth_dev_close(self.port_id)
        if self._hotplugged is not None:
            bus, name = self._hotplugged
            lib.rte_eal_hotplug_remove(bus.encode(), name.encode())
            self._hotplugged = None
        if self._mempool != ffi.NULL:
            lib.rte_mempool_free(self._mempool)
            self._mempool = ffi.NULL

    def __repr__(self):
        state = "closed" if self.closed else f"port {self.port_id}"
        return f"<netchan.dpdk.Device {self.devargs!r} {state}>"


def open_device(devargs: str, **kw) -> Device:
    """The control side only (see Device); open_port gives a netchan Port."""
    return Device(devargs, **kw)


def open_port(devargs: str, *, mtu=None, nbufs=None, rxd=None, txd=None, promisc=False,
              eal=None, uri=None, offload=True, queue=None, tso=None):
    """A netchan Port (netchan._core.DpdkPort) on DPDK device `devargs`:
    a vdev with its arguments (net_ring0, net_memif0,role=server,socket=PATH,
    net_af_packet0,iface=veth0) or a PCI address. `eal` is a list of EAL
    arguments, or a string in the URI's eal= form. tso: None uses TSO where
    the driver has it (but net_tap, dpdk_drivers.TSO_QUIRKS), False never,
    True insists (ValueError without it)."""
    from netchan._core import DpdkPort
    if isinstance(eal, str):
        eal = parse_eal_param(eal)
    dev = Device(devargs, nbufs=nbufs, rxd=rxd, txd=txd, mtu=mtu, promisc=promisc, eal=eal,
                 offload=offload, queue=queue, tso=tso)
    try:
        return DpdkPort(dev, uri or f"dpdk:{devargs}")
    except BaseException:
        dev.close()
        raise
