# The AF_PACKET port: `afpacket:IFACE`, netchan on any Linux interface (a
# veth end in a network namespace, a real NIC) through one packet socket
# with two mmap rings. This piece opens it and is its Python class; the
# rings are afpacket_rx.pxi / afpacket_tx.pxi, the offloads
# afpacket_offload.pxi, the state they share afpacket.pxd.
#
#   RX  TPACKET_V2 (ring=v2, the default): a frame reaches the stack as soon
#       as the kernel writes it, and the socket wakes a sleeping stack per
#       frame. TPACKET_V3 (ring=v3) hands over whole blocks, when full or
#       after block_timeout (>= 1 ms): dense, but a latency floor.
#   TX  tx=ring: a ring of fixed slots (the same TPACKET version); tx_burst
#       copies each buffer into the next free slot, frees the buffer, and
#       makes one sendto() per burst. tx=sendmmsg (the default with TSO): no
#       tx ring; one sendmmsg() per burst gathers each frame from the
#       stack's buffers, so the kernel copies it once into an skb of its
#       own. PACKET_QDISC_BYPASS either way: straight to the driver.
#
# Offloads. With PACKET_VNET_HDR every frame comes with a virtio-net header:
#   - A peer with TSO/GSO on (the default for a veth peer) sends TCP
#     super-frames of up to 64 KB on an MTU-1500 link. Each goes to the stack
#     whole in a 64 KiB GRO buffer (pools[1], gro_bufs=): TCP takes it as one
#     segment and ACKs it once, as Linux does a GRO aggregate. Without a free
#     GRO buffer, and for UDP GSO, the port cuts it into the MTU-sized
#     segments the wire would have carried (fixing IP length, id and
#     checksum, TCP sequence and flags), as the kernel's own GSO does. The V2
#     ring's frames are 64 KiB for this (rx_frame=).
#   - A frame from a peer with checksum offload on has only a partial TCP/UDP
#     checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM, TP_STATUS_CSUMNOTREADY): it never
#     left the machine's memory, so, as the kernel does, the port trusts it
#     and marks the buffer NC_BUF_F_CSUM_OK; the classifier then skips its
#     own check. Frames without the flag are verified by the stack as usual.
#   - On send, when the interface has tx checksumming on, the port has
#     NC_CAP_CSUM_TRUSTED: TCP leaves its checksums out, and the port sends
#     each frame marked NC_BUF_F_CSUM_OK with NEEDS_CSUM and the
#     pseudo-header sum (tso=0: every checksum in software).
#   - On send, when the interface has TSO and tx checksumming on (ethtool -k:
#     tcp-segmentation-offload, tx-checksumming; tso=0 turns it off), runs of
#     full-sized segments of one connection in a burst go out as one TCP
#     super-frame (gso_type TCPV4, gso_size = MSS, checksum partial): the
#     kernel or the veth peer then handles 64 KiB per frame. With
#     tx=sendmmsg the port offers NC_CAP_TX_REF, and TCP sends such
#     super-frames itself, their payload gathered from its send window.
#   Anything the port cannot take (a truncated or oversized frame, a GSO kind
#   it does not segment) is dropped and counted, and problems() says which
#   `ethtool -K` on the peer avoids it.
#
# MAC. The port uses a MAC of its own (locally administered, stable per
# interface; `mac=` overrides) and registers it as a unicast address on the
# interface (PACKET_MR_UNICAST; the kernel turns on promiscuous mode where
# the device has no unicast filter). The kernel on that interface then sees
# netchan's unicast frames as PACKET_OTHERHOST and drops them before routing:
# no RST, no ICMP, no forwarding. It still sees broadcasts, so it must not
# own netchan's IP address (it would answer ARP for it): check_address()
# refuses that at Stack creation.

# ---- Python side: open, inspect, check -------------------------------------

cdef int _afp_setopt(int fd, int name, int value) noexcept:
    return lpk.setsockopt(fd, lpk.SOL_PACKET, name, &value, sizeof(int))


def _afp_default_mac(str iface, bytes hw):
    """Locally administered, stable per interface: 02:6e:63:hh:hh:hh."""
    import hashlib
    h = hashlib.blake2s(b"afpacket:" + iface.encode() + hw, digest_size=3).digest()
    return bytes([0x02, 0x6e, 0x63]) + h


def _parse_mac(str text):
    parts = text.replace("-", ":").split(":")
    try:
        if len(parts) != 6:
            raise ValueError
        mac = bytes(int(x, 16) for x in parts)
    except ValueError:
        raise ValueError(f"mac={text!r}: expected six hex bytes, e.g. 02:6e:63:00:00:01") from None
    if mac[0] & 1:
        raise ValueError(f"mac={text}: a multicast address cannot be a port's address")
    return mac


def kernel_ipv6_addresses():
    """[(interface, address)] of every IPv6 address the kernel owns in this
    network namespace (/proc/net/if_inet6; none when IPv6 is off)."""
    import ipaddress
    out = []
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6:
                    out.append((parts[5], str(ipaddress.IPv6Address(bytes.fromhex(parts[0])))))
    except OSError:
        pass
    return out


def kernel_ipv4_addresses():
    """[(interface, address)] of every IPv4 address the kernel owns in this
    network namespace (SIOCGIFCONF)."""
    import array
    import fcntl
    import socket
    import struct
    SIOCGIFCONF = 0x8912
    entry = 40                          # sizeof(struct ifreq) on 64-bit Linux
    n = 256
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while True:
            buf = array.array("B", bytes(entry * n))
            addr, _ = buf.buffer_info()
            res = fcntl.ioctl(s.fileno(), SIOCGIFCONF, struct.pack("iL", entry * n, addr))
            used = struct.unpack("iL", res)[0]
            if used < entry * n:
                break
            n *= 4
    raw = buf.tobytes()[:used]
    out = []
    for off in range(0, used, entry):
        name = raw[off:off + 16].split(b"\0", 1)[0].decode(errors="replace")
        out.append((name, socket.inet_ntoa(raw[off + 20:off + 24])))
    return out


cdef class AfPacketPort(Port):
    """`afpacket:IFACE`: a packet socket with TPACKET_V2 or V3 rx and tx rings on a
    Linux interface. See the top of pyx/ports/afpacket.pxi."""
    cdef AfpState *st
    cdef MappedRegion pool_region
    cdef MappedRegion gro_region
    cdef readonly str iface
    cdef readonly str interface_mac
    cdef readonly dict geometry
    cdef uint64_t ring_drops_seen

    def __dealloc__(self):
        if self.st != NULL:
            afp_close(&self.st.port)
            free(self.st)
            self.st = NULL

    @property
    def vnet_hdr(self):
        """True when the kernel tells GSO and checksum state (PACKET_VNET_HDR)."""
        return self.st.vnet_len != 0

    cdef _read_ring_stats(self):
        # PACKET_STATISTICS resets on read: accumulate
        cdef lpk.tpacket_stats_v3 s
        cdef lpk.socklen_t n = sizeof(s)
        if self.st.fd >= 0 and lpk.getsockopt(self.st.fd, lpk.SOL_PACKET, lpk.PACKET_STATISTICS,
                                              &s, &n) == 0:
            self.st.x.ring_drops += s.tp_drops

    def _own_stats(self):
        self._read_ring_stats()
        cdef nc_port_stats *s = &self.p.stats
        cdef AfpExtra *x = &self.st.x
        return {
            "port_rx_packets": s.rx_packets, "port_rx_bytes": s.rx_bytes,
            "port_tx_packets": s.tx_packets, "port_tx_bytes": s.tx_bytes,
            "port_tx_dropped": s.tx_dropped, "port_alloc_failed": s.alloc_failed,
            "port_double_free": s.double_free,
            "port_bufs_free": self.st.fs.count, "port_bufs_total": self.p.pools[0].count,
            "port_link_up": int(bool(afp_link_up(self.p))),
            "afp_rx_blocks": x.rx_blocks, "afp_rx_truncated": x.rx_truncated,
            "afp_rx_oversize": x.rx_oversize, "afp_rx_gso_frames": x.rx_gso_frames,
            "afp_rx_gso_segments": x.rx_gso_segments, "afp_rx_gso_bad": x.rx_gso_bad,
            "afp_rx_gso_unsupported": x.rx_gso_unsupported,
            "afp_rx_csum_partial": x.rx_csum_partial, "afp_rx_csum_valid": x.rx_csum_valid,
            "afp_rx_no_buffer": x.rx_no_buffer, "afp_tx_ring_full": x.tx_ring_full,
            "afp_tx_oversize": x.tx_oversize, "afp_tx_kicks": x.tx_kicks,
            "afp_tx_kick_errors": x.tx_kick_errors, "afp_ring_drops": x.ring_drops,
            "afp_tx_tso_frames": x.tx_tso_frames, "afp_tx_tso_segments": x.tx_tso_segments,
            "afp_rx_gro_superframes": x.rx_gro_superframes,
            "afp_rx_gro_no_buffer": x.rx_gro_no_buffer, "afp_rx_vnet_bad": x.rx_vnet_bad,
            "afp_gro_bufs_free": self.st.gro_fs.count if self.st.gro_fs != NULL else 0,
            "afp_gro_bufs_total": self.p.pools[1].count if self.st.gro_fs != NULL else 0,
            "afp_rx_frames_held": self.st.zc_held,
            "afp_tx_csum_offloaded": x.tx_csum_offloaded, "afp_tx_busy": x.tx_busy,
        }

    def problems(self):
        """What went wrong on this port so far, each with what to do about it
        ([] when nothing did). `PEER` is the interface at the other end."""
        self._read_ring_stats()
        cdef AfpExtra *x = &self.st.x
        fix = "run `ethtool -K PEER tso off gso off` on the peer's interface"
        out = []
        if not self.st.vnet_len:
            out.append("this kernel refused PACKET_VNET_HDR, so GSO super-frames cannot be cut "
                       f"into segments: {fix}")
        if x.rx_truncated:
            if self.st.version == 2:
                out.append(f"{x.rx_truncated} frames were longer than a ring frame "
                           f"({self.st.rx_frame_size} bytes) and were dropped: raise rx_frame= "
                           f"or {fix}")
            else:
                out.append(f"{x.rx_truncated} frames were longer than a ring block "
                           f"({self.st.rx_block_size} bytes) and were dropped: raise block= "
                           f"or {fix}")
        if x.rx_oversize:
            out.append(f"{x.rx_oversize} frames were larger than the MTU ({self.p.mtu}) and were "
                       f"dropped: give both ends the same MTU, or {fix}")
        if x.rx_gso_unsupported:
            out.append(f"{x.rx_gso_unsupported} GSO super-frames of a kind netchan does not "
                       f"segment (only IPv4 TCP and UDP) were dropped: {fix}")
        if x.rx_gso_bad:
            out.append(f"{x.rx_gso_bad} GSO super-frames were malformed or failed their checksum")
        if x.ring_drops:
            out.append(f"the kernel dropped {x.ring_drops} frames because the rx ring was full: "
                       f"poll more often or raise blocks= (now {self.st.rx_block_nr})")
        if x.rx_no_buffer:
            out.append(f"reception stopped {x.rx_no_buffer} times for want of a free buffer: "
                       f"raise bufs= (now {self.p.pools[0].count})")
        if x.rx_vnet_bad:
            out.append(f"{x.rx_vnet_bad} frames came with a virtio-net header that contradicts "
                       f"the frame (gso_size 0, hdr_len or the checksum offset past its end) "
                       f"and were dropped: {fix}")
        if x.rx_gro_no_buffer:
            out.append(f"{x.rx_gro_no_buffer} TCP super-frames found no free GRO buffer and were "
                       f"cut into segments: raise gro_bufs= (now {self.p.pools[1].count})")
        if x.tx_kick_errors:
            out.append(f"{x.tx_kick_errors} sends failed in the kernel")
        return out

    def _rx_inject(self, bytes vnet, bytes frame):
        """Tests only: run one frame, with this virtio-net header before it,
        through the rx path as if the kernel had put it in the ring; the
        frames handed to the stack (as bytes, buffers freed again). The ring
        cannot carry headers the kernel would not write (malformed ones)."""
        cdef uint32_t bufs[64]
        cdef uint32_t k = 0, i
        cdef bytes raw = vnet + frame
        cdef uint8_t *data
        cdef nc_buf *nb
        cdef int done
        if self.st.vnet_len and len(vnet) != AFP_VNET_LEN:
            raise ValueError(f"the virtio-net header is {AFP_VNET_LEN} bytes")
        scratch = bytearray(raw)
        data = <uint8_t *><char *>scratch + len(vnet)
        got = []
        self.st.gso_off = 0
        self.st.rx_zc_frame = NC_BUF_NONE         # not in a ring frame: copied or cut
        while True:
            done = afp_rx_frame(self.st, data, len(frame), len(frame), 0, bufs, &k, 64, 0)
            for i in range(k):
                nb = nc_port_buf(self.p, bufs[i])
                got.append((<char *>nc_buf_data(nb))[:nb.len])
            afp_free_bufs(self.st, bufs, k)
            if done or k == 0:
                break
            k = 0
        self.st.gso_off = 0
        return got

    def moves_superframes(self):
        # TSO on the interface: the link's offloads are on, so the Linux
        # peer's are too as a rule (veth pairs are set alike), and its
        # super-frames come whole through the GRO buffers
        return bool(self.st.tso) and (self.st.gro_fs != NULL or self.st.rx_zc)

    def check_address(self, ip):
        """Refuse an address the kernel owns in this network namespace: it
        would answer ARP (or NDP) for it and reset netchan's connections."""
        six = ":" in str(ip)
        for name, addr in (kernel_ipv6_addresses() if six else kernel_ipv4_addresses()):
            if addr == str(ip):
                raise OSError(
                    _errno.EADDRINUSE,
                    f"afpacket:{self.iface}: the kernel owns {ip} (on {name}) in this network "
                    f"namespace and would answer netchan's peers itself ({'NDP' if six else 'ARP'}, "
                    f"RST). Give netchan "
                    f"an address the kernel does not have, or remove it with "
                    f"`ip addr del {ip}/PREFIX dev {name}`")

    def _close(self):
        self._read_ring_stats()
        afp_close(self.p)

    # the wake-up fd is the packet socket itself: readable once the kernel
    # writes a frame (V2), or retires a ring block (V3: at most the block
    # timeout after a frame)
    cdef int _bell_fd(self) noexcept:
        return self.st.fd if self.st != NULL else -1

    cdef bint _arm(self, uint64_t wait_ns) except -1:
        if self.st.fd < 0:
            return True
        return not afp_rx_ready(self.st)


def _cap_net_raw_hint():
    """How to get CAP_NET_RAW without handing raw sockets to every Python
    program: root, or the capability on a private copy of the venv's
    interpreter (never on the system python3 that the venv links to)."""
    import sys
    exe = sys.executable
    if sys.prefix != sys.base_prefix:
        return (f"run as root (sudo {exe} ...), or give this virtual environment its own "
                f"interpreter and the capability on that copy only: `cp --remove-destination "
                f"\"$(readlink -f {exe})\" {exe} && sudo setcap cap_net_raw+ep {exe}`")
    return ("run as root, or use netchan from a virtual environment (make install makes .venv) "
            "and give that environment's own copy of the interpreter the capability; do not "
            f"setcap {_os.path.realpath(exe)}, which every Python program on the machine runs")


def _afp_tx_offloads(str iface):
    """(TSO, tx checksumming) as `ethtool -k IFACE` shows them
    (tcp-segmentation-offload, tx-checksumming), through the legacy
    SIOCETHTOOL commands; (False, False) when the driver does not say."""
    import array
    import fcntl
    import socket
    import struct
    SIOCETHTOOL, ETHTOOL_GTXCSUM, ETHTOOL_GTSO = 0x8946, 0x16, 0x1e
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for cmd in (ETHTOOL_GTSO, ETHTOOL_GTXCSUM):
            val = array.array("I", [cmd, 0])
            ifr = struct.pack("16sP", iface.encode(), val.buffer_info()[0]).ljust(40, b"\0")
            try:
                fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
            except OSError:
                return False, False
            out.append(bool(val[1]))
    return out[0], out[1]


def open_afpacket(str iface, mtu=None, nbufs=None, blocks=None, block_size=None,
                  block_timeout_ns=None, frames=None, mac=None, hugepages=None,
                  ring=None, rx_frame=None, tso=None, queue=None, gro_bufs=None, tx=None):
    """Open `afpacket:iface`. nbufs: the port's pool (default 8192);
    ring: "v2" (default: per-frame, no latency floor) or "v3" (blocks);
    blocks x block_size: the rx ring (v2: 256 x 128 KiB cut into rx_frame
    frames of 64 KiB, room for a GSO super-frame; v3: 64 x 256 KiB);
    block_timeout_ns: how long the kernel may hold a partly filled v3 block
    (1 ms); frames: tx ring slots (2048, or 256 of 64 KiB with TSO); mac: the
    port's address (default: its own, see above); tso: False never sends
    super-frames, True insists (the interface must have TSO on), None
    follows the interface; gro_bufs: 64 KiB buffers that take TCP super-frames
    whole (256; 0 cuts every super-frame into MTU-sized segments); tx:
    "ring" (copy each frame into a tx-ring slot, one sendto() per burst) or
    "sendmmsg" (no tx ring: one sendmmsg() per burst gathers the frames from
    the stack's buffers), default sendmmsg when TSO is on, else ring."""
    ring = "v2" if ring is None else str(ring).lower()
    if ring not in ("v2", "v3"):
        raise ValueError(f"ring={ring}: must be v2 (a frame at a time, no latency floor) or v3 "
                         f"(blocks handed over when full or after block_timeout)")
    cdef uint32_t version = 2 if ring == "v2" else 3
    cdef uint32_t n_bufs = 8192 if nbufs is None else int(nbufs)
    cdef uint32_t rx_block_size = ((128 << 10) if version == 2 else (256 << 10)) \
        if block_size is None else int(block_size)
    cdef uint32_t rx_block_nr = (256 if version == 2 else 64) if blocks is None else int(blocks)
    cdef uint64_t tov_ns = 1000000 if block_timeout_ns is None else int(block_timeout_ns)
    cdef uint32_t tx_frames
    cdef uint32_t rx_frame_size = 0 if rx_frame is None else int(rx_frame)
    if version == 3 and rx_frame is not None:
        raise ValueError("rx_frame= applies to ring=v2 (v3 packs frames into its blocks)")
    if version == 2 and block_timeout_ns is not None:
        raise ValueError("block_timeout= applies to ring=v3 (v2 hands over every frame at once)")
    if rx_frame is not None and (rx_frame_size < 2048 or rx_frame_size % 16
                                 or rx_frame_size > rx_block_size):
        raise ValueError(f"rx_frame={rx_frame_size}: must be a multiple of 16 from 2048 to the "
                         f"block size ({rx_block_size}); 64k holds a GSO super-frame")
    if not iface or len(iface) >= 16 or "/" in iface or any(c.isspace() for c in iface):
        raise ValueError(f"afpacket:{iface}: not an interface name (at most 15 characters)")
    if n_bufs < 256 or n_bufs > (1 << 24):
        raise ValueError(f"bufs={n_bufs}: must be in 256..16777216")
    if rx_block_size < 4096 or rx_block_size > (64 << 20) or not nc_is_pow2(rx_block_size):
        raise ValueError(f"block={rx_block_size}: must be a power of two from 4 KiB to 64 MiB")
    if rx_block_nr < 2 or rx_block_nr > 65536:
        raise ValueError(f"blocks={rx_block_nr}: must be in 2..65536")
    if tov_ns < 1000000 or tov_ns > 10 * 1000000000ULL:
        raise ValueError(f"block_timeout={tov_ns} ns: must be from 1 ms to 10 s "
                         f"(TPACKET_V3 counts it in whole milliseconds)")
    cdef uint32_t n_gro = 256 if gro_bufs is None else int(gro_bufs)
    if gro_bufs is not None and (int(gro_bufs) < 0 or int(gro_bufs) > 65536):
        raise ValueError(f"gro_bufs={gro_bufs}: must be in 0..65536 (0: cut every TCP "
                         f"super-frame into segments)")
    if frames is not None and (int(frames) < 64 or int(frames) > (1 << 20)):
        raise ValueError(f"frames={frames}: must be in 64..1048576")
    if tx is not None and tx not in ("ring", "sendmmsg"):
        raise ValueError(f"tx={tx}: must be ring (copy into tx-ring slots, one sendto() per "
                         f"burst) or sendmmsg (gather frames from the stack's buffers)")
    if tx == "sendmmsg" and frames is not None:
        raise ValueError("frames= sizes the tx ring; tx=sendmmsg has none: leave frames= out")
    want_mac = _parse_mac(mac) if mac is not None else None

    bname = iface.encode()
    cdef int ifindex = lpk.if_nametoindex(bname)
    if ifindex == 0:
        raise OSError(_errno.ENODEV, f"afpacket:{iface}: no interface {iface!r} in this network "
                                     f"namespace (see `ip link`)")
    cdef int fd = lpk.socket(lpk.AF_PACKET, lpk.SOCK_RAW | lpk.SOCK_CLOEXEC, 0)
    if fd < 0:
        err = sysc.errno
        if err in (_errno.EPERM, _errno.EACCES):
            raise PermissionError(err, f"afpacket:{iface} needs CAP_NET_RAW: {_cap_net_raw_hint()}")
        raise _os_error(err, f"afpacket:{iface}: cannot open a packet socket")
    cdef AfPacketPort port = AfPacketPort.__new__(AfPacketPort)
    port.st = <AfpState *>calloc(1, sizeof(AfpState))
    if port.st == NULL:
        sysc.close(fd)
        raise MemoryError()
    cdef AfpState *st = port.st
    st.fd = fd
    st.ifindex = ifindex
    memcpy(st.ifname, <const char *>bname, len(bname))
    port.p = &st.port
    port.iface = iface
    port.uri = f"afpacket:{iface}"
    st.port.ops = &AFP_OPS
    st.port.caps = NC_CAP_SLEEP

    # the interface: up, Ethernet, its MTU and MAC
    cdef int flags = afp_if_flags(st)
    if not (flags & lpk.IFF_UP):
        port.close()
        raise OSError(_errno.ENETDOWN, f"afpacket:{iface}: the interface is down: bring it up "
                                       f"with `ip link set {iface} up`")
    cdef lpk.ifreq ifr
    memset(&ifr, 0, sizeof(ifr))
    memcpy(ifr.ifr_name, <const char *>bname, len(bname))
    if lpk.ioctl(fd, lpk.SIOCGIFMTU, &ifr) < 0:
        err = sysc.errno
        port.close()
        raise _os_error(err, f"afpacket:{iface}: cannot read the MTU")
    cdef uint32_t if_mtu = ifr.ifr_mtu
    memset(&ifr, 0, sizeof(ifr))
    memcpy(ifr.ifr_name, <const char *>bname, len(bname))
    if lpk.ioctl(fd, lpk.SIOCGIFHWADDR, &ifr) < 0 or ifr.ifr_hwaddr.sa_family != 1:  # ARPHRD_ETHER
        hatype = ifr.ifr_hwaddr.sa_family
        port.close()
        raise OSError(_errno.EINVAL, f"afpacket:{iface}: not an Ethernet interface (link type "
                                     f"{hatype}); afpacket needs Ethernet framing")
    hw = bytes([<uint8_t>ifr.ifr_hwaddr.sa_data[i] for i in range(6)])
    port.interface_mac = ":".join(f"{b:02x}" for b in hw)
    if mtu is not None and int(mtu) != if_mtu:
        port.close()
        raise ValueError(f"mtu={mtu}: {iface} has MTU {if_mtu}; change it with "
                         f"`ip link set {iface} mtu {mtu}` or leave mtu out")
    if if_mtu < 576 or if_mtu > 65535:
        port.close()
        raise ValueError(f"afpacket:{iface}: MTU {if_mtu} is outside 576..65535")
    st.port.mtu = if_mtu
    port_mac = want_mac if want_mac is not None else _afp_default_mac(iface, hw)
    memcpy(st.port.mac, <const char *>port_mac, 6)

    # socket options: all before the rings (PACKET_VNET_HDR must be)
    cdef void *mapped
    cdef uint32_t data_room, stride, tx_block_size, per_block
    cdef size_t fs_size
    cdef int sndbuf
    try:
        if _afp_setopt(fd, lpk.PACKET_VERSION,
                       lpk.TPACKET_V2 if version == 2 else lpk.TPACKET_V3) < 0:
            raise _os_error(sysc.errno, f"afpacket:{iface}: this kernel has no TPACKET_V{version}")
        st.version = version
        st.vnet_len = AFP_VNET_LEN if _afp_setopt(fd, lpk.PACKET_VNET_HDR, 1) == 0 else 0
        _afp_setopt(fd, lpk.PACKET_LOSS, 1)              # skip a malformed tx frame, do not stall
        _afp_setopt(fd, lpk.PACKET_QDISC_BYPASS, 1)      # best effort: older kernels lack it
        _afp_setopt(fd, lpk.PACKET_IGNORE_OUTGOING, 1)   # our own frames are not rx

        # TSO follows the interface (a super-frame to a device without it
        # would be cut in software by the kernel: no gain)
        dev_tso, dev_csum = _afp_tx_offloads(iface)
        if tso is None:
            st.tso = st.vnet_len != 0 and dev_tso and dev_csum
        elif tso:
            if not (st.vnet_len and dev_tso and dev_csum):
                raise ValueError(f"tso=1: {iface} has " + (
                    "no PACKET_VNET_HDR in this kernel" if not st.vnet_len else
                    f"TSO or tx checksumming off: `ethtool -K {iface} tx on tso on`, "
                    f"or leave tso= out"))
            st.tso = True
        else:
            st.tso = False
        # the kernel fills in TCP checksums (tcp_emit leaves them out) when
        # the interface has tx checksumming; tso=0 sends every frame exactly
        # as TCP built it, checksums included
        st.tx_csum = st.vnet_len != 0 and dev_csum and tso is not False
        if st.tx_csum:
            st.port.caps |= NC_CAP_CSUM_TRUSTED
        # tx=sendmmsg has no tx ring: with one, every send is tpacket_snd's
        st.tx_mmsg = (tx == "sendmmsg") if tx is not None else bool(st.tso)
        if st.tx_mmsg:
            # room for a burst of super-frames in flight (each skb counts
            # against the send buffer until the peer's side takes it)
            sndbuf = AFP_MMSG_SNDBUF
            if lpk.setsockopt(fd, lpk.SOL_SOCKET, lpk.SO_SNDBUFFORCE, &sndbuf, sizeof(int)) < 0:
                lpk.setsockopt(fd, lpk.SOL_SOCKET, lpk.SO_SNDBUF, &sndbuf, sizeof(int))
            if st.tso and st.tx_csum:
                # TCP may hand super-frames whose payload stays in its send
                # window: sendmmsg gathers (copies) it within tx_burst
                st.port.caps |= NC_CAP_TX_REF

        # rings: rx blocks, then tx frames, in one mapping
        st.rx_block_size = rx_block_size
        st.rx_block_nr = rx_block_nr
        if version == 2:
            st.rx_frame_size = rx_frame_size if rx_frame_size else 65536
            if st.rx_frame_size > rx_block_size:
                raise ValueError(f"block={rx_block_size}: smaller than a v2 frame "
                                 f"({st.rx_frame_size}); raise block= or lower rx_frame=")
            st.rx_fpb = rx_block_size // st.rx_frame_size
            st.rx_frame_nr = st.rx_fpb * rx_block_nr
            # TCP super-frames handed over in their ring frames (no copy)
            # when the frames lie evenly (the ring is then one pool) and the
            # kernel leaves room for a buffer header in each
            st.rx_zc = (st.vnet_len != 0 and n_gro != 0
                        and st.rx_fpb * st.rx_frame_size == rx_block_size
                        and _afp_setopt(fd, lpk.PACKET_RESERVE, AFP_ZC_RESERVE) == 0)
        st.tx_data_off = AFP_TX_DATA_OFF_V2 if version == 2 else AFP_TX_DATA_OFF_V3
        if st.tx_mmsg:
            st.tx_frame_size = 0
            tx_frames = 0
        elif st.tso:
            st.tx_frame_size = AFP_TSO_SLOT
            tx_frames = 256 if frames is None else int(frames)
        else:
            st.tx_frame_size = 2048
            while st.tx_frame_size < st.tx_data_off + AFP_VNET_LEN + ETH_HLEN + if_mtu:
                st.tx_frame_size <<= 1
            tx_frames = 2048 if frames is None else int(frames)
        if version == 2:
            req_rx = (rx_block_size, rx_block_nr, st.rx_frame_size, 0)
        else:
            req_rx = (rx_block_size, rx_block_nr, 2048, (tov_ns + 999999) // 1000000)
        _afp_set_ring(fd, lpk.PACKET_RX_RING, req_rx, iface, "rx")
        if not st.tx_mmsg:
            tx_block_size = st.tx_frame_size if st.tx_frame_size > 65536 else 65536
            per_block = tx_block_size // st.tx_frame_size
            tx_frames = (tx_frames + per_block - 1) // per_block * per_block
            req_tx = (tx_block_size, tx_frames // per_block, st.tx_frame_size, 0)
            _afp_set_ring(fd, lpk.PACKET_TX_RING, req_tx, iface, "tx")
        st.tx_frame_nr = tx_frames
        st.ring_size = <size_t>rx_block_size * rx_block_nr + <size_t>st.tx_frame_size * tx_frames
        mapped = sysc.mmap(NULL, st.ring_size, sysc.PROT_READ | sysc.PROT_WRITE, sysc.MAP_SHARED, fd, 0)
        if mapped == sysc.MAP_FAILED:
            raise _os_error(sysc.errno, f"afpacket:{iface}: cannot map the rings "
                                        f"({st.ring_size >> 20} MiB)")
        st.ring = <uint8_t *>mapped
        st.tx_base = st.ring + <size_t>rx_block_size * rx_block_nr

        # the port's pool: free stack, then the slots
        data_room = <uint32_t>round_up(if_mtu + ETH_HLEN, 64)
        stride = nc_pool_stride_for(data_room)
        fs_size = round_up(nc_freestack_memsize(n_bufs), 4096)
        port.pool_region = map_private(fs_size + <size_t>n_bufs * stride, hugepages)
        st.fs = <nc_freestack *>port.pool_region.ptr
        nc_freestack_init_full(st.fs, n_bufs)
        st.port.pools[0].base = port.pool_region.ptr + fs_size
        st.port.pools[0].stride = stride
        st.port.pools[0].hdr_off = 0
        st.port.pools[0].count = n_bufs
        st.port.pools[0].data_room = data_room
        nc_pool_format(&st.port.pools[0])
        # whole TCP super-frames: in place in the v2 ring (pools[1] is the
        # ring, a buffer header in each frame's reserve), else a GRO pool
        # (pages committed as touched; the free stack is LIFO, so a stream
        # keeps reusing the same few)
        if st.rx_zc:
            st.port.pools[1].base = st.ring
            st.port.pools[1].stride = st.rx_frame_size
            st.port.pools[1].hdr_off = AFP_ZC_HDR_OFF
            st.port.pools[1].count = st.rx_frame_nr
            st.port.pools[1].data_room = st.rx_frame_size - AFP_ZC_MAC_OFF
            nc_pool_format(&st.port.pools[1])
        elif st.vnet_len and n_gro:
            stride = nc_pool_stride_for(AFP_GRO_ROOM)
            fs_size = round_up(nc_freestack_memsize(n_gro), 4096)
            port.gro_region = map_private(fs_size + <size_t>n_gro * stride, False)
            st.gro_fs = <nc_freestack *>port.gro_region.ptr
            nc_freestack_init_full(st.gro_fs, n_gro)
            st.port.pools[1].base = port.gro_region.ptr + fs_size
            st.port.pools[1].stride = stride
            st.port.pools[1].hdr_off = 0
            st.port.pools[1].count = n_gro
            st.port.pools[1].data_room = AFP_GRO_ROOM
            nc_pool_format(&st.port.pools[1])

        if queue is not None and queue[1] > 1:
            steer_attach_filter(fd, queue[0], queue[1], iface)
        # frames start flowing once bound to the interface
        if _afp_bind(fd, ifindex) < 0:
            raise _os_error(sysc.errno, f"afpacket:{iface}: cannot bind to the interface")
        if port_mac != hw and _afp_add_unicast(fd, ifindex, port_mac) < 0:
            raise _os_error(sysc.errno, f"afpacket:{iface}: cannot add the unicast address "
                                        f"{port.mac} to the interface")
    except BaseException:
        port.close()
        raise
    port.geometry = {
        "ring": ring, "rx_block_size": rx_block_size, "rx_blocks": rx_block_nr,
        "rx_frame_size": st.rx_frame_size, "rx_frames": st.rx_frame_nr,
        "block_timeout_ms": (tov_ns + 999999) // 1000000 if version == 3 else None,
        "tx_frame_size": st.tx_frame_size, "tx_frames": st.tx_frame_nr,
        "bufs": n_bufs, "data_room": st.port.pools[0].data_room,
        "vnet_hdr": bool(st.vnet_len), "tso": bool(st.tso), "tx_csum": bool(st.tx_csum),
        "tx": "sendmmsg" if st.tx_mmsg else "ring",
        "gro_bufs": st.port.pools[1].count if st.gro_fs != NULL else 0,
        "rx_in_place": bool(st.rx_zc),
        "hugepages": port.pool_region.hugepages,
    }
    return port


cdef _afp_set_ring(int fd, int which, tuple req, str iface, str what):
    cdef lpk.tpacket_req3 r
    memset(&r, 0, sizeof(r))
    r.tp_block_size = req[0]
    r.tp_block_nr = req[1]
    r.tp_frame_size = req[2]
    r.tp_frame_nr = (r.tp_block_size // r.tp_frame_size) * r.tp_block_nr
    r.tp_retire_blk_tov = req[3]
    if lpk.setsockopt(fd, lpk.SOL_PACKET, which, &r, sizeof(r)) < 0:
        err = sysc.errno
        size = (<uint64_t>r.tp_block_size * r.tp_block_nr) >> 20
        if err == _errno.ENOMEM:
            raise MemoryError(f"afpacket:{iface}: the kernel cannot allocate the {what} ring "
                              f"({size} MiB): ask for fewer blocks=/frames=")
        raise _os_error(err, f"afpacket:{iface}: cannot set up the {what} ring "
                             f"({r.tp_block_nr} blocks of {r.tp_block_size} bytes)")


cdef int _afp_bind(int fd, int ifindex) noexcept:
    cdef lpk.sockaddr_ll sll
    memset(&sll, 0, sizeof(sll))
    sll.sll_family = lpk.AF_PACKET
    sll.sll_protocol = lpk.htons(lpk.ETH_P_ALL)
    sll.sll_ifindex = ifindex
    return lpk.bind(fd, <lpk.sockaddr *>&sll, sizeof(sll))


cdef int _afp_add_unicast(int fd, int ifindex, bytes mac) noexcept:
    cdef lpk.packet_mreq mr
    memset(&mr, 0, sizeof(mr))
    mr.mr_ifindex = ifindex
    mr.mr_type = lpk.PACKET_MR_UNICAST
    mr.mr_alen = 6
    memcpy(mr.mr_address, <const char *>mac, 6)
    return lpk.setsockopt(fd, lpk.SOL_PACKET, lpk.PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))

