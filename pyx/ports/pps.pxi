# Packet-rate loops for `netchan bench pps`: frames pushed through one port
# and counted at another with no stack above them, the way testpmd's txonly
# and rxonly engines measure a link's packet ceiling. One call runs a C loop
# without the GIL for a slice of time; the caller (Python) asks again for
# the next slice, so interval reports cost one Python call per slice, never
# one per frame.

cdef void _flood_slice(nc_port *p, const uint8_t *frame, uint32_t n, uint32_t burst,
                       uint64_t until_ns, uint64_t *counts) noexcept nogil:
    """Transmit copies of frame in bursts until until_ns. counts[0] frames
    sent, [1] frames the port refused (ring full), [2] bursts that got no
    buffer (pool empty); [3] set to 1 when the frame does not fit a buffer."""
    cdef uint32_t bufs[64]
    cdef uint32_t k, i, t
    cdef nc_buf *nb
    while mono_ns() < until_ns:
        k = p.ops.alloc_burst(p, bufs, burst)
        if k == 0:
            counts[2] += 1
            continue
        if n > nc_buf_tailroom(nc_port_buf(p, bufs[0])):
            p.ops.free_burst(p, bufs, k)
            counts[3] = 1
            return
        for i in range(k):
            nb = nc_port_buf(p, bufs[i])
            memcpy(nc_buf_data(nb), frame, n)
            nb.len = n
        t = p.ops.tx_burst(p, bufs, k, 0)
        counts[0] += t
        if t < k:
            counts[1] += k - t
            p.ops.free_burst(p, &bufs[t], k - t)


cdef void _drain_slice(nc_port *p, uint32_t burst, uint64_t until_ns,
                       uint64_t *counts) noexcept nogil:
    """Receive and free frames until until_ns. counts[0] frames, [1] bytes,
    [2] empty polls."""
    cdef uint32_t bufs[64]
    cdef uint32_t k, i
    while mono_ns() < until_ns:
        k = p.ops.rx_burst(p, bufs, burst, 0)
        if k == 0:
            counts[2] += 1
            continue
        counts[0] += k
        for i in range(k):
            counts[1] += nc_port_buf(p, bufs[i]).len
        p.ops.free_burst(p, bufs, k)


def port_flood(Port port, frame, double seconds, uint32_t burst=32):
    """Send copies of `frame` (bytes-like, one Ethernet frame without FCS)
    through `port` for `seconds`, in bursts of `burst` (1..64). Returns
    (sent, refused_ring_full, bursts_without_buffer)."""
    port._check_usable()
    cdef const uint8_t[:] data = frame
    cdef uint32_t n = data.shape[0]
    cdef uint64_t counts[4]
    if not 1 <= burst <= 64:
        raise ValueError(f"burst={burst}: must be 1 to 64")
    if n < 14:
        raise ValueError(f"a {n}-byte frame is shorter than an Ethernet header")
    counts[0] = counts[1] = counts[2] = counts[3] = 0
    cdef uint64_t until = mono_ns() + <uint64_t>(seconds * 1e9)
    with nogil:
        _flood_slice(port.p, &data[0], n, burst, until, counts)
    if counts[3]:
        raise ValueError(f"a {n}-byte frame does not fit {port.uri}'s buffers")
    return counts[0], counts[1], counts[2]


def port_drain(Port port, double seconds, uint32_t burst=32):
    """Receive and free every frame arriving on `port` for `seconds`.
    Returns (frames, bytes, empty_polls)."""
    port._check_usable()
    cdef uint64_t counts[3]
    if not 1 <= burst <= 64:
        raise ValueError(f"burst={burst}: must be 1 to 64")
    counts[0] = counts[1] = counts[2] = 0
    cdef uint64_t until = mono_ns() + <uint64_t>(seconds * 1e9)
    with nogil:
        _drain_slice(port.p, burst, until, counts)
    return counts[0], counts[1], counts[2]
