# The AF_PACKET port: `afpacket:IFACE`, netchan on any Linux interface (a
# veth end in a network namespace, a real NIC) through one packet socket
# with two mmap rings.
#
#   RX  TPACKET_V3 ring of blocks. The kernel hands a block over when it is
#       full or when the retire timeout (1 ms by default) passes, so an idle
#       link adds at most that much latency. rx_burst copies each frame into
#       a buffer of the port's OWN pool (nc_pool + nc_freestack, as the link
#       ports lay out) and gives the block back as soon as its last frame is
#       copied: the kernel's ring never waits on the stack's channels.
#   TX  TPACKET_V3 ring of fixed frames. tx_burst copies each buffer into the
#       next free slot, frees the buffer, and makes one sendto() per burst
#       (PACKET_QDISC_BYPASS: straight to the driver).
#
# Offloads. With PACKET_VNET_HDR every frame comes with a virtio-net header:
#   - A peer with TSO/GSO on (the default for a veth peer) sends TCP
#     super-frames of up to 64 KB on an MTU-1500 link. The header carries the
#     segment size, so the port cuts them into the MTU-sized segments the
#     wire would have carried (fixing IP length, id and checksum, TCP
#     sequence and flags), as the kernel's own GSO does. UDP GSO likewise.
#   - A frame from a peer with checksum offload on has only a partial TCP/UDP
#     checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM, TP_STATUS_CSUMNOTREADY): it never
#     left the machine's memory, so, as the kernel does, the port trusts it
#     and marks the buffer NC_BUF_F_CSUM_OK; the classifier then skips its
#     own check. Frames without the flag are verified by the stack as usual.
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

cdef enum:
    AFP_TX_DATA_OFF = 48        # TPACKET_ALIGN(sizeof(tpacket3_hdr)): tx frame data starts here
    AFP_VNET_LEN = 10           # sizeof(virtio_net_hdr)
    AFP_GSO_UDP_L4 = 5          # VIRTIO_NET_HDR_GSO_UDP_L4 (Linux 4.18); older headers lack it

cdef struct AfpExtra:
    uint64_t rx_blocks          # ring blocks consumed
    uint64_t rx_truncated       # frame longer than a ring block (tp_snaplen < tp_len)
    uint64_t rx_oversize        # frame (or GSO segment) larger than a buffer, no GSO info
    uint64_t rx_gso_frames      # super-frames cut into segments
    uint64_t rx_gso_segments    # segments made from them
    uint64_t rx_gso_bad         # super-frames whose headers did not parse
    uint64_t rx_gso_unsupported # GSO kinds not segmented here (IPv6, ...)
    uint64_t rx_csum_partial    # frames with a partial checksum, trusted
    uint64_t rx_csum_valid      # frames the kernel had verified
    uint64_t rx_no_buffer       # rx stopped: the pool was empty
    uint64_t tx_ring_full       # tx stopped: no free slot in the ring
    uint64_t tx_oversize        # frame larger than a tx slot, dropped
    uint64_t tx_kicks           # sendto() calls
    uint64_t tx_kick_errors     # sendto() failures other than EAGAIN/ENOBUFS
    uint64_t ring_drops         # frames the kernel dropped: rx ring full (PACKET_STATISTICS)

cdef struct AfpState:
    nc_port port                # first: an nc_port* is an AfpState*
    int fd
    int ifindex
    char ifname[16]
    uint8_t *ring               # rx blocks, then tx frames, one mapping
    size_t ring_size
    uint32_t vnet_len           # AFP_VNET_LEN with PACKET_VNET_HDR, else 0
    # rx
    uint32_t rx_block_size
    uint32_t rx_block_nr
    uint32_t rx_cur             # next block to look at
    lpk.tpacket_block_desc *rx_bd   # block being consumed, or NULL
    uint8_t *rx_pkt             # its next frame
    uint32_t rx_left            # frames left in it
    uint32_t gso_off            # payload already cut from the super-frame at rx_pkt
    # tx
    uint8_t *tx_base
    uint32_t tx_frame_size
    uint32_t tx_frame_nr
    uint32_t tx_head
    # the port's own pool
    nc_freestack *fs
    AfpExtra x


from includes cimport linux_packet as lpk


cdef inline lpk.tpacket_block_desc *afp_block(AfpState *st, uint32_t i) noexcept nogil:
    return <lpk.tpacket_block_desc *>(st.ring + <size_t>i * st.rx_block_size)


cdef inline uint32_t afp_alloc_one(AfpState *st) noexcept nogil:
    cdef uint32_t b
    if nc_pool_alloc_burst(&st.port.pools[0], st.fs, &b, 1, 0) != 1:
        st.x.rx_no_buffer += 1
        return NC_BUF_NONE
    return b


cdef inline void afp_deliver(AfpState *st, uint32_t b, uint32_t *bufs, uint32_t *k,
                             uint64_t now) noexcept nogil:
    cdef nc_buf *nb = nc_port_buf(&st.port, b)
    nb.stamp = now
    st.port.stats.rx_packets += 1
    st.port.stats.rx_bytes += nb.len
    bufs[k[0]] = b
    k[0] += 1


cdef inline void afp_count_csum(AfpState *st, bint partial, bint valid) noexcept nogil:
    if partial:
        st.x.rx_csum_partial += 1
    elif valid:
        st.x.rx_csum_valid += 1


cdef int afp_rx_gso(AfpState *st, uint8_t *data, uint32_t snap, uint8_t gso_type,
                    uint32_t mss, bint trusted, uint32_t *bufs, uint32_t *k, uint32_t n,
                    uint64_t now) noexcept nogil:
    """Cut one super-frame into segments of mss payload bytes. Returns 1 when
    the frame is done (segmented or dropped), 0 when out of room or buffers:
    st.gso_off remembers where to go on."""
    cdef uint8_t *ip = data + ETH_HLEN
    cdef uint32_t ihl, tot, l4hl, hdr, payload, chunk, seg
    cdef uint8_t proto
    cdef uint8_t *l4
    cdef uint32_t b, seq
    cdef uint16_t ident
    cdef nc_buf *nb
    cdef uint8_t *p
    cdef uint8_t *pip
    cdef uint8_t *pl4
    cdef bint last
    if snap < ETH_HLEN + IPV4_HLEN or rd16(data + 12) != ETH_P_IPV4 or (ip[0] >> 4) != 4:
        st.x.rx_gso_unsupported += 1
        return 1
    ihl = (ip[0] & 0x0f) * 4
    tot = rd16(ip + 2)
    proto = ip[9]
    if ihl < IPV4_HLEN or tot < ihl or ETH_HLEN + tot > snap:
        st.x.rx_gso_bad += 1
        return 1
    l4 = ip + ihl
    if proto == IP_PROTO_TCP and gso_type == lpk.VIRTIO_NET_HDR_GSO_TCPV4:
        if tot < ihl + TCP_HLEN:
            st.x.rx_gso_bad += 1
            return 1
        l4hl = (l4[12] >> 4) * 4
    elif proto == IP_PROTO_UDP and gso_type == AFP_GSO_UDP_L4:
        l4hl = UDP_HLEN
    else:
        st.x.rx_gso_unsupported += 1
        return 1
    if l4hl < (TCP_HLEN if proto == IP_PROTO_TCP else UDP_HLEN) or ihl + l4hl > tot or mss == 0:
        st.x.rx_gso_bad += 1
        return 1
    hdr = ETH_HLEN + ihl + l4hl
    payload = ETH_HLEN + tot - hdr
    if hdr + (mss if mss < payload else payload) > st.port.pools[0].data_room:
        st.x.rx_oversize += 1
        return 1
    if st.gso_off == 0 and not trusted:
        # nobody vouched for it: check the whole L4 checksum once here, then
        # its segments are as good as verified
        if nc_csum_fold(nc_csum_partial(l4, tot - ihl,
                nc_csum_pseudo_ipv4(ip + 12, proto, <uint16_t>(tot - ihl)))) != 0:
            st.x.rx_gso_bad += 1
            return 1
    ident = rd16(ip + 4)
    seq = rd32(l4 + 4) if proto == IP_PROTO_TCP else 0
    while st.gso_off < payload:
        if k[0] >= n:
            return 0
        b = afp_alloc_one(st)
        if b == NC_BUF_NONE:
            return 0
        seg = st.gso_off // mss
        chunk = payload - st.gso_off
        if chunk > mss:
            chunk = mss
        last = st.gso_off + chunk == payload
        nb = nc_port_buf(&st.port, b)
        p = nc_buf_data(nb)
        memcpy(p, data, hdr)
        memcpy(p + hdr, data + hdr + st.gso_off, chunk)
        nb.len = hdr + chunk
        nb.flags = NC_BUF_F_CSUM_OK
        pip = p + ETH_HLEN
        pl4 = pip + ihl
        wr16(pip + 2, <uint16_t>(ihl + l4hl + chunk))
        wr16(pip + 4, <uint16_t>(ident + seg))
        pip[10] = 0
        pip[11] = 0
        store_csum(pip + 10, nc_csum_fold(nc_csum_partial(pip, ihl, 0)))
        if proto == IP_PROTO_TCP:
            # as tcp_gso_segment: CWR on the first segment only, FIN and PSH
            # on the last only
            wr32(pl4 + 4, seq + st.gso_off)
            if seg:
                pl4[13] &= ~TCP_CWR
            if not last:
                pl4[13] &= ~(TCP_FIN | TCP_PSH)
        else:
            wr16(pl4 + 4, <uint16_t>(UDP_HLEN + chunk))
        st.gso_off += chunk
        st.x.rx_gso_segments += 1
        if seg == 0:
            st.x.rx_gso_frames += 1
        afp_deliver(st, b, bufs, k, now)
    return 1


cdef int afp_rx_frame(AfpState *st, lpk.tpacket3_hdr *h, uint32_t *bufs, uint32_t *k,
                      uint32_t n, uint64_t now) noexcept nogil:
    """Take one frame of a ring block. Returns 1 when done with it (delivered
    or dropped), 0 when it must wait for the next call."""
    cdef uint8_t *data = <uint8_t *>h + h.tp_mac
    cdef uint32_t snap = h.tp_snaplen
    cdef lpk.virtio_net_hdr *vh
    cdef uint8_t gso_type = lpk.VIRTIO_NET_HDR_GSO_NONE
    cdef uint32_t gso_size = 0
    cdef bint partial, valid
    cdef uint32_t b
    cdef nc_buf *nb
    if snap < h.tp_len:
        st.x.rx_truncated += 1
        return 1
    if st.vnet_len:
        vh = <lpk.virtio_net_hdr *>(data - AFP_VNET_LEN)
        partial = (vh.flags & lpk.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0
        valid = (vh.flags & lpk.VIRTIO_NET_HDR_F_DATA_VALID) != 0
        gso_type = vh.gso_type & ~lpk.VIRTIO_NET_HDR_GSO_ECN
        gso_size = vh.gso_size
    else:
        partial = (h.tp_status & lpk.TP_STATUS_CSUMNOTREADY) != 0
        valid = (h.tp_status & lpk.TP_STATUS_CSUM_VALID) != 0
    if gso_type != lpk.VIRTIO_NET_HDR_GSO_NONE:
        if st.gso_off == 0 and k[0] < n and st.fs.count:
            afp_count_csum(st, partial, valid)      # once, even if it takes two calls
        return afp_rx_gso(st, data, snap, gso_type, gso_size, partial or valid, bufs, k, n, now)
    if snap > st.port.pools[0].data_room:
        st.x.rx_oversize += 1
        return 1
    b = afp_alloc_one(st)
    if b == NC_BUF_NONE:
        return 0
    nb = nc_port_buf(&st.port, b)
    memcpy(nc_buf_data(nb), data, snap)
    nb.len = snap
    nb.flags = NC_BUF_F_CSUM_OK if (partial or valid) else 0
    afp_count_csum(st, partial, valid)
    afp_deliver(st, b, bufs, k, now)
    return 1


cdef uint32_t afp_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef lpk.tpacket_block_desc *bd
    cdef lpk.tpacket3_hdr *h
    cdef uint32_t k = 0
    while k < n:
        if st.rx_bd == NULL:
            bd = afp_block(st, st.rx_cur)
            # acquire: the frames are written before the kernel flips the status
            if not (nc_load_acquire_u32(&bd.hdr.bh1.block_status) & lpk.TP_STATUS_USER):
                break
            st.rx_bd = bd
            st.rx_pkt = <uint8_t *>bd + bd.hdr.bh1.offset_to_first_pkt
            st.rx_left = bd.hdr.bh1.num_pkts
            st.gso_off = 0
            st.x.rx_blocks += 1
        while st.rx_left and k < n:
            h = <lpk.tpacket3_hdr *>st.rx_pkt
            if not afp_rx_frame(st, h, bufs, &k, n, now):
                return k
            st.rx_pkt += h.tp_next_offset
            st.rx_left -= 1
            st.gso_off = 0
        if st.rx_left == 0:
            # release: our reads of the block are done before the kernel may
            # write it again
            nc_store_release_u32(&st.rx_bd.hdr.bh1.block_status, lpk.TP_STATUS_KERNEL)
            st.rx_bd = NULL
            st.rx_cur += 1
            if st.rx_cur == st.rx_block_nr:
                st.rx_cur = 0
    return k


cdef int _ENOBUFS_AFP = _errno.ENOBUFS


cdef inline void afp_kick(AfpState *st) noexcept nogil:
    """One sendto() sends every frame marked SEND_REQUEST. MSG_DONTWAIT: do
    not wait for completions (the slots come back as the skbs are freed)."""
    cdef long rc = lpk.sendto(st.fd, NULL, 0, lpk.MSG_DONTWAIT, NULL, 0)
    st.x.tx_kicks += 1
    if rc < 0 and sysc.errno != sysc.EAGAIN and sysc.errno != _ENOBUFS_AFP and sysc.errno != sysc.EINTR:
        st.x.tx_kick_errors += 1


cdef uint32_t afp_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef lpk.tpacket3_hdr *h
    cdef uint8_t *slot
    cdef uint32_t taken = 0, status, len_
    cdef uint32_t room = st.tx_frame_size - AFP_TX_DATA_OFF - st.vnet_len
    cdef nc_buf *nb
    cdef bint full = False
    while taken < n:
        slot = st.tx_base + <size_t>st.tx_head * st.tx_frame_size
        h = <lpk.tpacket3_hdr *>slot
        # acquire: the kernel is done with the slot's bytes when it says AVAILABLE
        status = nc_load_acquire_u32(&h.tp_status)
        if status & (lpk.TP_STATUS_SEND_REQUEST | lpk.TP_STATUS_SENDING):
            st.x.tx_ring_full += 1
            full = True
            break
        nb = nc_port_buf(p, bufs[taken])
        len_ = nb.len
        taken += 1
        if len_ > room:
            st.x.tx_oversize += 1
            p.stats.tx_dropped += 1
            continue
        if st.vnet_len:
            memset(slot + AFP_TX_DATA_OFF, 0, AFP_VNET_LEN)     # no offload asked
        memcpy(slot + AFP_TX_DATA_OFF + st.vnet_len, nc_buf_data(nb), len_)
        h.tp_len = st.vnet_len + len_
        h.tp_next_offset = 0
        # release: the frame is complete before the kernel may read it
        nc_store_release_u32(&h.tp_status, lpk.TP_STATUS_SEND_REQUEST)
        st.tx_head += 1
        if st.tx_head == st.tx_frame_nr:
            st.tx_head = 0
        p.stats.tx_packets += 1
        p.stats.tx_bytes += len_
    # the frames are copied (or dropped): their buffers go back now
    if taken:
        p.stats.double_free += nc_pool_free_burst(&p.pools[0], st.fs, bufs, taken)
    if taken or full:
        afp_kick(st)
    return taken


cdef uint32_t afp_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef uint32_t k = nc_pool_alloc_burst(&p.pools[0], st.fs, bufs, n, 0)
    if k < n:
        p.stats.alloc_failed += n - k
    return k


cdef void afp_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    p.stats.double_free += nc_pool_free_burst(&p.pools[0], st.fs, bufs, n)


cdef uint64_t afp_next_deadline(nc_port *p) noexcept nogil:
    return <uint64_t>-1


cdef void afp_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef lpk.pollfd pfd
    cdef lpk.timespec ts
    if timeout_ns == 0 or st.fd < 0 or st.rx_bd != NULL:
        return
    if nc_load_acquire_u32(&afp_block(st, st.rx_cur).hdr.bh1.block_status) & lpk.TP_STATUS_USER:
        return
    pfd.fd = st.fd
    pfd.events = lpk.POLLIN
    pfd.revents = 0
    ts.tv_sec = <long>(timeout_ns // 1000000000ULL)
    ts.tv_nsec = <long>(timeout_ns % 1000000000ULL)
    lpk.ppoll(&pfd, 1, &ts, NULL)


cdef int afp_if_flags(AfpState *st) noexcept nogil:
    """The interface's IFF_* flags, or 0 if they cannot be read."""
    cdef lpk.ifreq ifr
    memset(&ifr, 0, sizeof(ifr))
    memcpy(ifr.ifr_name, st.ifname, 16)
    if st.fd < 0 or lpk.ioctl(st.fd, lpk.SIOCGIFFLAGS, &ifr) < 0:
        return 0
    return <uint16_t>ifr.ifr_flags


cdef int afp_link_up(nc_port *p) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef int want = lpk.IFF_UP | lpk.IFF_RUNNING
    return (afp_if_flags(st) & want) == want


cdef void afp_close(nc_port *p) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    if st.ring != NULL:
        sysc.munmap(st.ring, st.ring_size)
        st.ring = NULL
    if st.fd >= 0:
        sysc.close(st.fd)
        st.fd = -1


cdef nc_port_ops AFP_OPS


AFP_OPS.rx_burst = afp_rx_burst


AFP_OPS.tx_burst = afp_tx_burst


AFP_OPS.alloc_burst = afp_alloc_burst


AFP_OPS.free_burst = afp_free_burst


AFP_OPS.next_deadline = afp_next_deadline


AFP_OPS.wait = afp_wait


AFP_OPS.link_up = afp_link_up


AFP_OPS.close = afp_close


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
    """`afpacket:IFACE`: a packet socket with TPACKET_V3 rx and tx rings on a
    Linux interface. See the top of pyx/ports/afpacket.pxi."""
    cdef AfpState *st
    cdef MappedRegion pool_region
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
            out.append(f"{x.rx_truncated} frames were longer than a ring block "
                       f"({self.st.rx_block_size} bytes) and were dropped: raise block= or {fix}")
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
        if x.tx_kick_errors:
            out.append(f"{x.tx_kick_errors} sends failed in the kernel")
        return out

    def check_address(self, ip):
        """Refuse an address the kernel owns in this network namespace: it
        would answer ARP for it and reset netchan's connections."""
        for name, addr in kernel_ipv4_addresses():
            if addr == str(ip):
                raise OSError(
                    _errno.EADDRINUSE,
                    f"afpacket:{self.iface}: the kernel owns {ip} (on {name}) in this network "
                    f"namespace and would answer netchan's peers itself (ARP, RST). Give netchan "
                    f"an address the kernel does not have, or remove it with "
                    f"`ip addr del {ip}/PREFIX dev {name}`")

    def _close(self):
        self._read_ring_stats()
        afp_close(self.p)

    # the wake-up fd is the packet socket itself: readable once the kernel
    # retires a ring block (at most the 1 ms block timeout after a frame)
    cdef int _bell_fd(self) noexcept:
        return self.st.fd if self.st != NULL else -1

    cdef bint _arm(self, uint64_t wait_ns) except -1:
        if self.st.fd < 0 or self.st.rx_bd != NULL:
            return self.st.fd < 0
        return not (nc_load_acquire_u32(&afp_block(self.st, self.st.rx_cur).hdr.bh1.block_status)
                    & lpk.TP_STATUS_USER)


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


def open_afpacket(str iface, mtu=None, nbufs=None, blocks=None, block_size=None,
                  block_timeout_ns=None, frames=None, mac=None, hugepages=None, queue=None):
    """Open `afpacket:iface`. nbufs: the port's pool (default 8192);
    blocks x block_size: the rx ring (64 x 256 KiB); block_timeout_ns: how
    long the kernel may hold a partly filled block (1 ms); frames: tx ring
    slots (2048); mac: the port's address (default: its own, see above)."""
    cdef uint32_t n_bufs = 8192 if nbufs is None else int(nbufs)
    cdef uint32_t rx_block_size = (256 << 10) if block_size is None else int(block_size)
    cdef uint32_t rx_block_nr = 64 if blocks is None else int(blocks)
    cdef uint64_t tov_ns = 1000000 if block_timeout_ns is None else int(block_timeout_ns)
    cdef uint32_t tx_frames = 2048 if frames is None else int(frames)
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
    if tx_frames < 64 or tx_frames > (1 << 20):
        raise ValueError(f"frames={tx_frames}: must be in 64..1048576")
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
    cdef void *ring
    cdef uint32_t data_room, stride, tx_block_size, per_block
    cdef size_t fs_size
    try:
        if _afp_setopt(fd, lpk.PACKET_VERSION, lpk.TPACKET_V3) < 0:
            raise _os_error(sysc.errno, f"afpacket:{iface}: this kernel has no TPACKET_V3")
        st.vnet_len = AFP_VNET_LEN if _afp_setopt(fd, lpk.PACKET_VNET_HDR, 1) == 0 else 0
        _afp_setopt(fd, lpk.PACKET_LOSS, 1)              # skip a malformed tx frame, do not stall
        _afp_setopt(fd, lpk.PACKET_QDISC_BYPASS, 1)      # best effort: older kernels lack it
        _afp_setopt(fd, lpk.PACKET_IGNORE_OUTGOING, 1)   # our own frames are not rx

        # rings: rx blocks, then tx frames, in one mapping
        st.rx_block_size = rx_block_size
        st.rx_block_nr = rx_block_nr
        st.tx_frame_size = 2048
        while st.tx_frame_size < AFP_TX_DATA_OFF + AFP_VNET_LEN + ETH_HLEN + if_mtu:
            st.tx_frame_size <<= 1
        tx_block_size = st.tx_frame_size if st.tx_frame_size > 65536 else 65536
        per_block = tx_block_size // st.tx_frame_size
        tx_frames = (tx_frames + per_block - 1) // per_block * per_block
        st.tx_frame_nr = tx_frames
        req_rx = (rx_block_size, rx_block_nr, 2048, (tov_ns + 999999) // 1000000)
        req_tx = (tx_block_size, tx_frames // per_block, st.tx_frame_size, 0)
        _afp_set_ring(fd, lpk.PACKET_RX_RING, req_rx, iface, "rx")
        _afp_set_ring(fd, lpk.PACKET_TX_RING, req_tx, iface, "tx")
        st.ring_size = <size_t>rx_block_size * rx_block_nr + <size_t>st.tx_frame_size * tx_frames
        ring = sysc.mmap(NULL, st.ring_size, sysc.PROT_READ | sysc.PROT_WRITE, sysc.MAP_SHARED, fd, 0)
        if ring == sysc.MAP_FAILED:
            raise _os_error(sysc.errno, f"afpacket:{iface}: cannot map the rings "
                                        f"({st.ring_size >> 20} MiB)")
        st.ring = <uint8_t *>ring
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
        "rx_block_size": rx_block_size, "rx_blocks": rx_block_nr,
        "block_timeout_ms": (tov_ns + 999999) // 1000000,
        "tx_frame_size": st.tx_frame_size, "tx_frames": st.tx_frame_nr,
        "bufs": n_bufs, "data_room": st.port.pools[0].data_room,
        "vnet_hdr": bool(st.vnet_len), "hugepages": port.pool_region.hugepages,
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
