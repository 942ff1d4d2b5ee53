# A capture port: an nc_port with no link behind it, for TcbHarness
# (testing/tcb_harness.pxi). It owns one malloc'd buffer pool; tx_burst keeps
# every frame it is given, in order, in a bounded C queue of buffer indices
# (no Python object), until the harness takes them out (capture_port_pop,
# then free_burst); rx_burst never returns a frame; the link is always up.
#
# The queue holds as many indices as the pool has buffers, so tx_burst only
# refuses a frame when every buffer is already captured (the stack then
# frees it and counts C_TX_PORT_REFUSED, as on any full port).

from posix.stdlib cimport posix_memalign


cdef struct CapturePort:
    nc_port port                # first member: an nc_port * is a CapturePort *
    nc_freestack *fs            # free slots of port.pools[0]
    uint8_t *mem                # the slots themselves
    uint32_t *q                 # captured frames, oldest first: a ring of qcap
    uint32_t qhead
    uint32_t qlen
    uint32_t qcap


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
