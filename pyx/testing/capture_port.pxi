# A capture port: an nc_port with no link behind it, for TcbHarness
# (testing/tcb_harness.pxi). It owns one malloc'd buffer pool; tx_burst keeps
# every frame it is given, in order, in a bounded C queue of buffer indices
# (no Python object), until the harness takes them out (capture_port_pop,
# then free_burst); rx_burst never returns a frame; the link is always up.
#
# The queue holds as many indices as the pool has buffers, so tx_burst only
# refuses a frame when every buffer is already captured (the stack then
# frees it and counts C_TX_PORT_REFUSED, as on any full port).
#
# capture_port_offload makes it a device with TCP segmentation and checksum
# offload (NC_CAP_TX_REF | NC_CAP_CSUM_TRUSTED): it fills in the checksums
# the stack left out, and cuts each super-frame by reference into the
# segments a NIC's TSO (or Linux's tcp_gso_segment) would put on the wire,
# during tx_burst, as the contract asks: seq advanced by gso_size per
# segment, IPv4 id by one, PSH and FIN on the last only.

from posix.stdlib cimport posix_memalign


cdef struct CapturePort:
    nc_port port                # first member: an nc_port * is a CapturePort *
    nc_freestack *fs            # free slots of port.pools[0]
    uint8_t *mem                # the slots themselves
    uint32_t *q                 # captured frames, oldest first: a ring of qcap
    uint32_t qhead
    uint32_t qlen
    uint32_t qcap
    bint offload                # NC_CAP_TX_REF | NC_CAP_CSUM_TRUSTED: segment and checksum


cdef inline void capture_tcp_checksum(uint8_t *f) noexcept nogil:
    """The TCP checksum of an IPv4 frame whose IP header is complete."""
    cdef uint8_t *ip = f + ETH_HLEN
    cdef uint32_t ihl = (ip[0] & 0x0f) * 4
    tcp_fill_checksum(ip + ihl, rd16(ip + 2) - ihl, ip)


cdef uint32_t capture_segment(CapturePort *cp, nc_buf *nb, uint64_t now) noexcept nogil:
    """Cut a super-frame by reference (IPv4) into segments on the capture
    queue. Returns how many; 0 if buffers or queue room ran out (the whole
    frame is then lost, counted tx_dropped, as a device would drop it)."""
    cdef const uint8_t *hdr = nc_buf_data(nb)
    cdef uint32_t hl = nb.len, ihl = (hdr[ETH_HLEN] & 0x0f) * 4
    cdef const uint8_t *payload = <const uint8_t *><size_t>nb.user[0]
    cdef uint32_t total = <uint32_t>nb.user[1], gso = <uint32_t>nb.user[2]
    cdef uint32_t nsegs = (total + gso - 1) // gso, k, off, chunk, b
    cdef uint8_t *f
    cdef uint8_t *ip
    cdef uint8_t flags = hdr[ETH_HLEN + ihl + 13]
    cdef nc_buf *sb
    if cp.qlen + nsegs > cp.qcap:
        return 0
    for k in range(nsegs):
        if nc_pool_alloc_burst(&cp.port.pools[0], cp.fs, &b, 1, 0) != 1:
            cp.port.stats.alloc_failed += 1
            return k
        sb = nc_port_buf(&cp.port, b)
        f = nc_buf_data(sb)
        off = k * gso
        chunk = total - off if total - off < gso else gso
        memcpy(f, hdr, hl)
        memcpy(f + hl, payload + off, chunk)
        ip = f + ETH_HLEN
        wr16(ip + 2, <uint16_t>(hl - ETH_HLEN + chunk))
        wr16(ip + 4, <uint16_t>(rd16(hdr + ETH_HLEN + 4) + k))
        ip[10] = 0
        ip[11] = 0
        store_csum(ip + 10, nc_csum_fold(nc_csum_partial(ip, ihl, 0)))
        wr32(ip + ihl + 4, rd32(hdr + ETH_HLEN + ihl + 4) + off)
        ip[ihl + 13] = flags if k == nsegs - 1 else flags & ~(TCP_PSH | TCP_FIN)
        sb.len = hl + chunk
        capture_tcp_checksum(f)
        sb.stamp = now
        cp.q[(cp.qhead + cp.qlen) % cp.qcap] = b
        cp.qlen += 1
        cp.port.stats.tx_packets += 1
        cp.port.stats.tx_bytes += sb.len
    return nsegs


cdef uint32_t capture_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    return 0                    # nothing ever arrives: the harness feeds TCP directly


cdef uint32_t capture_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef CapturePort *cp = <CapturePort *>p
    cdef uint32_t i
    cdef nc_buf *nb
    for i in range(n):
        if cp.qlen == cp.qcap:
            p.stats.tx_dropped += n - i
            return i            # the rest stay with the caller (it frees them)
        nb = nc_port_buf(p, bufs[i])
        if nb.flags & NC_BUF_F_TX_REF:
            if capture_segment(cp, nb, now) == 0:
                p.stats.tx_dropped += 1
            nc_pool_free_burst(&p.pools[0], cp.fs, &bufs[i], 1)     # its bytes are copied
            continue
        if cp.offload and nb.flags & NC_BUF_F_CSUM_OK:
            capture_tcp_checksum(nc_buf_data(nb))       # left to the device
        nb.stamp = now
        cp.q[(cp.qhead + cp.qlen) % cp.qcap] = bufs[i]
        cp.qlen += 1
        p.stats.tx_packets += 1
        p.stats.tx_bytes += nb.len
    return n


cdef uint32_t capture_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef CapturePort *cp = <CapturePort *>p
    cdef uint32_t k = nc_pool_alloc_burst(&p.pools[0], cp.fs, bufs, n, 0)
    if k < n:
        p.stats.alloc_failed += n - k
    return k


cdef void capture_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef CapturePort *cp = <CapturePort *>p
    p.stats.double_free += nc_pool_free_burst(&p.pools[0], cp.fs, bufs, n)


cdef uint64_t capture_next_deadline(nc_port *p) noexcept nogil:
    return <uint64_t>-1         # the port itself never needs a poll


cdef void capture_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil:
    pass                        # cannot sleep on anything: returns at once


cdef int capture_link_up(nc_port *p) noexcept nogil:
    return 1


cdef void capture_close(nc_port *p) noexcept nogil:
    pass                        # capture_port_free releases everything


cdef nc_port_ops CAPTURE_OPS


CAPTURE_OPS.rx_burst = capture_rx_burst


CAPTURE_OPS.tx_burst = capture_tx_burst


CAPTURE_OPS.alloc_burst = capture_alloc_burst


CAPTURE_OPS.free_burst = capture_free_burst


CAPTURE_OPS.next_deadline = capture_next_deadline


CAPTURE_OPS.wait = capture_wait


CAPTURE_OPS.link_up = capture_link_up


CAPTURE_OPS.close = capture_close


cdef CapturePort *capture_port_new(uint32_t mtu, uint32_t nbufs, const uint8_t *mac) noexcept nogil:
    """A capture port for IP MTU `mtu` with a pool of nbufs buffers (each
    holds a whole Ethernet frame of that MTU), or NULL."""
    cdef CapturePort *cp = <CapturePort *>calloc(1, sizeof(CapturePort))
    cdef nc_pool *pool
    cdef void *mem = NULL
    cdef void *fs = NULL
    if cp == NULL:
        return NULL
    pool = &cp.port.pools[0]
    pool.stride = nc_pool_stride_for(mtu + ETH_HLEN)
    pool.hdr_off = 0
    pool.count = nbufs
    pool.data_room = mtu + ETH_HLEN
    if (posix_memalign(&mem, NC_CACHE_LINE, <size_t>pool.stride * nbufs) != 0 or
            posix_memalign(&fs, NC_CACHE_LINE, nc_freestack_memsize(nbufs)) != 0):
        free(mem)
        free(cp)
        return NULL
    cp.mem = <uint8_t *>mem
    cp.fs = <nc_freestack *>fs
    cp.q = <uint32_t *>malloc(nbufs * sizeof(uint32_t))
    if cp.q == NULL:
        capture_port_free(cp)
        return NULL
    cp.qcap = nbufs
    pool.base = cp.mem
    nc_pool_format(pool)
    nc_freestack_init_full(cp.fs, nbufs)
    cp.port.ops = &CAPTURE_OPS
    memcpy(cp.port.mac, mac, 6)
    cp.port.mtu = mtu
    cp.port.caps = NC_CAP_VIRTUAL_TIME
    cp.port.inner = NULL
    cp.port.impl = cp
    cp.port.peer_lost_handled = 0
    return cp


cdef uint32_t capture_port_pop(CapturePort *cp) noexcept nogil:
    """The oldest captured frame's buffer (now the caller's: free it with
    free_burst), or NC_BUF_NONE."""
    cdef uint32_t b
    if cp.qlen == 0:
        return NC_BUF_NONE
    b = cp.q[cp.qhead]
    cp.qhead = (cp.qhead + 1) % cp.qcap
    cp.qlen -= 1
    return b


cdef void capture_port_free(CapturePort *cp) noexcept nogil:
    if cp == NULL:
        return
    free(cp.q)
    free(cp.fs)
    free(cp.mem)
    free(cp)


cdef void capture_port_offload(CapturePort *cp) noexcept nogil:
    """Make cp a device with TSO and checksum offload (see the top)."""
    cp.offload = True
    cp.port.caps |= NC_CAP_TX_REF | NC_CAP_CSUM_TRUSTED
