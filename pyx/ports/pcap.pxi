# The pcap port: a wrapper that writes every frame it passes, both ways, to
# a pcap file (nanosecond timestamps, LINKTYPE_ETHERNET) that tcpdump and
# Wireshark read. Frames are written as they cross this element, so put it
# outside a fault wrapper to see what the stack saw, inside to see the wire.

cdef struct PcapPortState:
    nc_port port
    nc_port *inner
    FILE *f
    int64_t offset_ns        # added to the stack clock to get wall time
    bint offset_set
    int64_t wall_at_open

cdef struct PcapRecordHeader:
    uint32_t ts_sec
    uint32_t ts_nsec
    uint32_t incl_len
    uint32_t orig_len


from libc.stdio cimport FILE, fopen, fwrite, fclose, fflush


cdef void pcap__fill_tcp_checksum(uint8_t *frame, uint32_t n) noexcept nogil:
    """A frame a port vouched for may carry no TCP checksum (a shm sender
    leaves it out, a Linux peer sends a partial one): write it in, so that
    the capture reads as valid. The stack trusts the frame either way."""
    cdef uint32_t ihl, total
    if n >= ETH_HLEN + IPV6_HLEN + TCP_HLEN and rd16(frame + 12) == ETH_P_IPV6:
        # IPv6 with TCP right after the fixed header (as netchan sends it)
        total = rd16(frame + ETH_HLEN + 4)
        if frame[ETH_HLEN + 6] == IP_PROTO_TCP and TCP_HLEN <= total <= n - ETH_HLEN - IPV6_HLEN:
            tcp6_fill_checksum(frame + ETH_HLEN + IPV6_HLEN, total, frame + ETH_HLEN)
        return
    if n < ETH_HLEN + IPV4_HLEN + TCP_HLEN or rd16(frame + 12) != ETH_P_IPV4:
        return
    ihl = (frame[ETH_HLEN] & 0xf) * 4
    total = rd16(frame + ETH_HLEN + 2)
    if (frame[ETH_HLEN + 9] != IP_PROTO_TCP or ihl < IPV4_HLEN or total > n - ETH_HLEN or
            total < ihl + TCP_HLEN or rd16(frame + ETH_HLEN + 6) & 0x3fff):
        return
    tcp_fill_checksum(frame + ETH_HLEN + ihl, total - ihl, frame + ETH_HLEN)


cdef void pcap_write(PcapPortState *pp, const uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef PcapRecordHeader rh
    cdef nc_buf *b
    cdef uint64_t t
    cdef uint32_t i
    if pp.f == NULL:
        return
    if not pp.offset_set:
        pp.offset_ns = pp.wall_at_open - <int64_t>now
        pp.offset_set = True
    t = <uint64_t>(<int64_t>now + pp.offset_ns)
    for i in range(n):
        b = nc_port_buf(pp.inner, bufs[i])
        if b.flags & NC_BUF_F_CSUM_OK:
            pcap__fill_tcp_checksum(nc_buf_data(b), b.len)
        rh.ts_sec = <uint32_t>(t // 1000000000ULL)
        rh.ts_nsec = <uint32_t>(t % 1000000000ULL)
        rh.incl_len = b.len
        rh.orig_len = b.len
        if (fwrite(&rh, sizeof(rh), 1, pp.f) != 1 or
                (b.len and fwrite(nc_buf_data(b), b.len, 1, pp.f) != 1)):
            pp.port.stats.pcap_errors += 1
        else:
            pp.port.stats.pcap_written += 1


cdef uint32_t pcap_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    cdef uint32_t k = pp.inner.ops.rx_burst(pp.inner, bufs, n, now)
    if k:
        pcap_write(pp, bufs, k, now)
    return k


cdef uint32_t pcap_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    # Written before the inner port owns (and may free) them.
    pcap_write(pp, bufs, n, now)
    return pp.inner.ops.tx_burst(pp.inner, bufs, n, now)


cdef uint32_t pcap_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    return pp.inner.ops.alloc_burst(pp.inner, bufs, n)


cdef void pcap_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    pp.inner.ops.free_burst(pp.inner, bufs, n)


cdef uint64_t pcap_next_deadline(nc_port *p) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    return pp.inner.ops.next_deadline(pp.inner)


cdef void pcap_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    if pp.f != NULL:
        fflush(pp.f)        # idle: make the file current for a reader
    pp.inner.ops.wait(pp.inner, timeout_ns)


cdef int pcap_link_up(nc_port *p) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    return pp.inner.ops.link_up(pp.inner)


cdef void pcap_close(nc_port *p) noexcept nogil:
    cdef PcapPortState *pp = <PcapPortState *>p
    if pp.f != NULL:
        fclose(pp.f)
        pp.f = NULL


cdef nc_port_ops PCAP_OPS


PCAP_OPS.rx_burst = pcap_rx_burst


PCAP_OPS.tx_burst = pcap_tx_burst


PCAP_OPS.alloc_burst = pcap_alloc_burst


PCAP_OPS.free_burst = pcap_free_burst


PCAP_OPS.next_deadline = pcap_next_deadline


PCAP_OPS.wait = pcap_wait


PCAP_OPS.link_up = pcap_link_up


PCAP_OPS.close = pcap_close


cdef class PcapPort(Port):
    """Writes every frame crossing it to `path` (pcap, nanosecond stamps)."""
    cdef PcapPortState *pp
    cdef readonly str path

    def __dealloc__(self):
        if self.pp != NULL:
            if self.pp.f != NULL:
                fclose(self.pp.f)
            free(self.pp)
            self.pp = NULL

    def __init__(self, Port inner, str path):
        import struct
        import time
        self.pp = <PcapPortState *>calloc(1, sizeof(PcapPortState))
        if self.pp == NULL:
            raise MemoryError()
        bpath = _os.fsencode(path)
        self.pp.f = fopen(bpath, b"wb")
        if self.pp.f == NULL:
            raise OSError(sysc.errno, f"cannot write pcap file {path}: {_os.strerror(sysc.errno)}")
        # pcap global header: nanosecond magic, v2.4, snaplen 262144, Ethernet
        hdr = struct.pack("=IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1)
        fwrite(<const char *>hdr, len(hdr), 1, self.pp.f)
        fflush(self.pp.f)
        self.pp.wall_at_open = time.time_ns()
        self.inner = inner
        self.path = path
        self.p = &self.pp.port
        self.pp.inner = inner.p
        self.p.ops = &PCAP_OPS
        self.p.pools[0] = inner.p.pools[0]
        self.p.pools[1] = inner.p.pools[1]
        memcpy(self.p.mac, inner.p.mac, 6)
        self.p.mtu = inner.p.mtu
        self.p.caps = inner.p.caps & ~NC_CAP_TX_REF    # it holds or copies out frames
        self.uri = inner.uri

    def _own_stats(self):
        return {"pcap_written": self.p.stats.pcap_written, "pcap_errors": self.p.stats.pcap_errors}

    def flush(self):
        if self.pp.f != NULL:
            fflush(self.pp.f)

    def _close(self):
        pcap_close(self.p)
