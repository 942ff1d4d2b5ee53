# The fault port: a seeded impairment wrapper that stacks on any port.
#
# This kernel has no netem, so netchan brings its own. Each direction (tx =
# frames leaving the stack, rx = frames arriving) has its own generator, so a
# run is reproducible from its seed whatever the traffic in the other
# direction. Per frame, in this order:
#   loss      drop it
#   corrupt   flip one random bit somewhere in the frame
#   dup       send a copy right after it
#   delay     hold it for delay_ns (all frames, FIFO)
#   reorder   hold it back until reorder_depth later frames have passed it,
#             or for hold_ns of (virtual) time, whichever comes first
#
# Reordering is a "late frame" model: the chosen frame arrives behind the
# next reorder_depth frames (behind a delay line, counted as they leave it).
# netem's reorder is the mirror image ("early frame": with `delay`, the
# chosen frames skip the delay and overtake those in flight). Memory is
# bounded: at most FAULT_HOLD_MAX frames are held back per direction (a frame
# chosen when all are in use goes through in order, uncounted), and no two
# frames wait for the same later frames: a frame chosen right after another
# one was held goes through (it is the first to pass it), as with depth 1
# a frame is only ever swapped with its successor.
#
# Invariant kept for the link ports: a frame held across calls is always in
# one of our own buffers. A received frame (the peer's buffer) is copied
# before it is held, so the peer's buffers never wait on our impairments.

cdef enum:
    FAULT_TX = 0
    FAULT_RX = 1
    FAULT_MAX_BURST = 64
    FAULT_HOLD_MAX = 32         # frames held back for reordering at once, per direction
    FAULT_DEPTH_MAX = 1000      # largest reorder_depth

cdef struct FaultDir:
    bint enabled
    uint64_t rng
    uint64_t loss            # probabilities scaled to 2^32
    uint64_t dup
    uint64_t reorder
    uint64_t corrupt
    uint64_t delay_ns
    uint64_t hold_ns         # longest a reordered frame waits for its successors
    uint32_t depth           # later frames a reordered frame lets pass (reorder_depth)
    uint32_t q_head          # delay line (and overflow) FIFO, linked by nc_buf.next
    uint32_t q_tail
    uint32_t q_len
    uint32_t nheld           # frames held back for reordering, in the order they were held
    uint32_t held[FAULT_HOLD_MAX]
    uint32_t held_left[FAULT_HOLD_MAX]      # later frames still to pass it
    uint64_t held_until[FAULT_HOLD_MAX]     # ... or until then

cdef struct FaultPortState:
    nc_port port
    nc_port *inner
    FaultDir dirs[2]


cdef inline uint64_t splitmix64(uint64_t *state) noexcept nogil:
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef enum:
    FAULT_F_REORDER = 0x40000000    # nc_buf.flags, ours while queued: hold back when due


cdef inline bint fault_roll(FaultDir *d, uint64_t p32) noexcept nogil:
    # Always draw, so the stream position does not depend on which knobs are
    # zero: the same seed and traffic give the same losses whatever else is on.
    return (splitmix64(&d.rng) >> 32) < p32


cdef inline uint32_t fault_dup(FaultPortState *fp, uint32_t idx) noexcept nogil:
    """A copy of frame idx in one of our own buffers (checksum-verified mark
    included), or NC_BUF_NONE if no buffer is free. idx stays the caller's."""
    cdef nc_port *inner = fp.inner
    cdef uint32_t c
    cdef nc_buf *src = nc_port_buf(inner, idx)
    cdef nc_buf *dst
    if inner.ops.alloc_burst(inner, &c, 1) != 1:
        return NC_BUF_NONE
    dst = nc_port_buf(inner, c)
    if src.len > nc_buf_tailroom(dst):
        inner.ops.free_burst(inner, &c, 1)
        return NC_BUF_NONE
    memcpy(nc_buf_data(dst), nc_buf_data(src), src.len)
    dst.len = src.len
    dst.flags = src.flags & NC_BUF_F_CSUM_OK
    return c


cdef inline uint32_t fault_own_copy(FaultPortState *fp, uint32_t idx) noexcept nogil:
    """idx itself if it is in our pool (or too large for one of ours); else
    a copy in one of ours (the original is freed either way). NC_BUF_NONE
    if no buffer is free."""
    cdef uint32_t c
    if not (idx & NC_BUF_POOL_BIT):
        return idx
    if nc_port_buf(fp.inner, idx).len > fp.inner.pools[0].data_room:
        # larger than any buffer of ours: the port's own second pool (an
        # afpacket super-frame), not a peer's (a shm peer's are our size)
        return idx
    c = fault_dup(fp, idx)
    fp.inner.ops.free_burst(fp.inner, &idx, 1)
    return c


cdef inline void fault_q_push(FaultPortState *fp, FaultDir *d, uint32_t idx, uint64_t due) noexcept nogil:
    cdef nc_buf *b = nc_port_buf(fp.inner, idx)
    b.next = NC_BUF_NONE
    b.stamp = due
    if d.q_len == 0:
        d.q_head = idx
    else:
        nc_port_buf(fp.inner, d.q_tail).next = idx
    d.q_tail = idx
    d.q_len += 1


cdef inline uint32_t fault_q_pop_due(FaultPortState *fp, FaultDir *d, uint64_t now) noexcept nogil:
    cdef uint32_t idx
    cdef nc_buf *b
    if d.q_len == 0:
        return NC_BUF_NONE
    b = nc_port_buf(fp.inner, d.q_head)
    if b.stamp > now:
        return NC_BUF_NONE
    idx = d.q_head
    d.q_head = b.next
    d.q_len -= 1
    return idx


cdef inline void fault_emit(FaultPortState *fp, FaultDir *d, uint32_t idx, uint32_t *out,
                            uint32_t *nout, uint32_t cap, uint64_t now) noexcept nogil:
    if nout[0] < cap:
        out[nout[0]] = idx
        nout[0] += 1
    else:
        # no room in this call: first in line for the next one
        idx = fault_own_copy(fp, idx)
        if idx != NC_BUF_NONE:
            fault_q_push(fp, d, idx, now)


cdef bint fault_hold(FaultPortState *fp, FaultDir *d, uint32_t idx, uint64_t now) noexcept nogil:
    """Hold frame idx back for reordering; False if it must go through in
    order (no room, or the frame held last has not been passed yet)."""
    cdef uint32_t k = d.nheld
    if k == FAULT_HOLD_MAX or (k and d.held_left[k - 1] == d.depth):
        return False
    idx = fault_own_copy(fp, idx)
    if idx == NC_BUF_NONE:
        return True                     # (no buffer for the copy: the frame is gone)
    d.held[k] = idx
    d.held_left[k] = d.depth
    d.held_until[k] = now + d.hold_ns
    d.nheld = k + 1
    fp.port.stats.fault_reordered += 1
    return True


cdef void fault_release_held(FaultPortState *fp, FaultDir *d, uint32_t *out, uint32_t *nout,
                             uint32_t cap, uint64_t now, bint passed) noexcept nogil:
    """A frame went out (passed: it counts against every held frame's
    depth), or time moved: send the held frames whose depth is used up or
    whose hold_ns ended, in the order they were held."""
    cdef uint32_t i, k = 0
    for i in range(d.nheld):
        if passed and d.held_left[i]:
            d.held_left[i] -= 1
        if d.held_left[i] == 0 or d.held_until[i] <= now:
            fault_emit(fp, d, d.held[i], out, nout, cap, now)
        else:
            d.held[k] = d.held[i]
            d.held_left[k] = d.held_left[i]
            d.held_until[k] = d.held_until[i]
            k += 1
    d.nheld = k


cdef void fault_release_due(FaultPortState *fp, FaultDir *d, uint32_t *out, uint32_t *nout,
                            uint32_t cap, uint64_t now) noexcept nogil:
    cdef uint32_t idx
    cdef nc_buf *b
    cdef bint reorder
    while nout[0] < cap:
        idx = fault_q_pop_due(fp, d, now)
        if idx == NC_BUF_NONE:
            break
        # reordering behind a delay line: a frame fault_process marked is
        # held back as it leaves the line
        b = nc_port_buf(fp.inner, idx)
        reorder = (b.flags & FAULT_F_REORDER) != 0
        b.flags &= ~FAULT_F_REORDER
        if reorder and fault_hold(fp, d, idx, now):
            continue
        out[nout[0]] = idx
        nout[0] += 1
        if d.nheld:
            fault_release_held(fp, d, out, nout, cap, now, True)
    if d.nheld:
        fault_release_held(fp, d, out, nout, cap, now, False)


cdef void fault_process(FaultPortState *fp, FaultDir *d, uint32_t idx, uint32_t *out,
                        uint32_t *nout, uint32_t cap, uint64_t now) noexcept nogil:
    cdef nc_port *inner = fp.inner
    cdef nc_buf *b = nc_port_buf(inner, idx)
    cdef uint32_t copies[2]
    cdef uint32_t ncopies = 1, i, pos
    cdef uint64_t r
    cdef bint lose = fault_roll(d, d.loss)
    cdef bint corrupt = fault_roll(d, d.corrupt)
    cdef bint dup = fault_roll(d, d.dup)
    cdef bint reorder = fault_roll(d, d.reorder)
    if lose:
        inner.ops.free_burst(inner, &idx, 1)
        fp.port.stats.fault_lost += 1
        return
    if corrupt and b.len:
        r = splitmix64(&d.rng)
        pos = <uint32_t>((r >> 32) % b.len)
        nc_buf_data(b)[pos] ^= <uint8_t>(1 << (r & 7))
        b.flags &= ~NC_BUF_F_CSUM_OK     # whatever the port vouched for no longer holds
        fp.port.stats.fault_corrupted += 1
    copies[0] = idx
    if dup:
        copies[1] = fault_dup(fp, idx)
        if copies[1] != NC_BUF_NONE:
            ncopies = 2
            fp.port.stats.fault_duplicated += 1
    for i in range(ncopies):
        idx = copies[i]
        if d.delay_ns:
            idx = fault_own_copy(fp, idx)
            if idx != NC_BUF_NONE:
                if reorder and i == 0:
                    nc_port_buf(inner, idx).flags |= FAULT_F_REORDER
                fault_q_push(fp, d, idx, now + d.delay_ns)
                fp.port.stats.fault_delayed += 1
        elif not (reorder and i == 0 and fault_hold(fp, d, idx, now)):
            fault_emit(fp, d, idx, out, nout, cap, now)
            if d.nheld:
                fault_release_held(fp, d, out, nout, cap, now, True)


cdef uint32_t fault_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    cdef FaultDir *d = &fp.dirs[FAULT_RX]
    cdef uint32_t nout = 0, k, i
    cdef uint32_t got[FAULT_MAX_BURST]
    fault_flush_tx(fp, now)     # delayed tx frames leave even when the stack sends nothing
    if n > FAULT_MAX_BURST:
        n = FAULT_MAX_BURST
    if not d.enabled:
        return fp.inner.ops.rx_burst(fp.inner, bufs, n, now)
    if d.delay_ns:
        # a delay line: every frame that has arrived starts its delay now,
        # not when a later call gets round to reading it (which queued a
        # large burst in 32-frame steps of one delay each)
        while True:
            k = fp.inner.ops.rx_burst(fp.inner, got, FAULT_MAX_BURST, now)
            for i in range(k):
                fault_process(fp, d, got[i], bufs, &nout, n, now)
            if k < FAULT_MAX_BURST:
                break
    fault_release_due(fp, d, bufs, &nout, n, now)
    if nout < n:
        k = fp.inner.ops.rx_burst(fp.inner, got, n - nout, now)
        for i in range(k):
            fault_process(fp, d, got[i], bufs, &nout, n, now)
    return nout


cdef uint32_t fault_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    cdef FaultDir *d = &fp.dirs[FAULT_TX]
    cdef uint32_t out[2 * FAULT_MAX_BURST + 2]
    cdef uint32_t nout, sent, done = 0, chunk, i
    cdef uint32_t cap = 2 * FAULT_MAX_BURST + 2
    if not d.enabled:
        return fp.inner.ops.tx_burst(fp.inner, bufs, n, now)
    while True:
        nout = 0
        fault_release_due(fp, d, out, &nout, FAULT_MAX_BURST, now)
        chunk = n - done
        if chunk > FAULT_MAX_BURST:
            chunk = FAULT_MAX_BURST
        for i in range(chunk):
            fault_process(fp, d, bufs[done + i], out, &nout, cap, now)
        done += chunk
        if nout:
            sent = fp.inner.ops.tx_burst(fp.inner, out, nout, now)
            if sent < nout:
                fp.inner.ops.free_burst(fp.inner, out + sent, nout - sent)
                p.stats.tx_dropped += nout - sent
        if done >= n:
            break
    return n


cdef uint32_t fault_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    return fp.inner.ops.alloc_burst(fp.inner, bufs, n)


cdef void fault_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    fp.inner.ops.free_burst(fp.inner, bufs, n)


cdef uint64_t fault_next_deadline(nc_port *p) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    cdef uint64_t t = fp.inner.ops.next_deadline(fp.inner)
    cdef FaultDir *d
    cdef int k
    cdef uint32_t i
    for k in range(2):
        d = &fp.dirs[k]
        if d.q_len and nc_port_buf(fp.inner, d.q_head).stamp < t:
            t = nc_port_buf(fp.inner, d.q_head).stamp
        for i in range(d.nheld):
            if d.held_until[i] < t:
                t = d.held_until[i]
    return t


cdef void fault_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    fp.inner.ops.wait(fp.inner, timeout_ns)


cdef int fault_link_up(nc_port *p) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    return fp.inner.ops.link_up(fp.inner)


cdef void fault_flush_tx(FaultPortState *fp, uint64_t now) noexcept nogil:
    """Send tx frames that came due while nobody transmitted."""
    cdef FaultDir *d = &fp.dirs[FAULT_TX]
    cdef uint32_t out[FAULT_MAX_BURST]
    cdef uint32_t nout, sent
    if not d.enabled:
        return
    while True:
        nout = 0
        fault_release_due(fp, d, out, &nout, FAULT_MAX_BURST, now)
        if nout == 0:
            return
        sent = fp.inner.ops.tx_burst(fp.inner, out, nout, now)
        if sent < nout:
            fp.inner.ops.free_burst(fp.inner, out + sent, nout - sent)
            fp.port.stats.tx_dropped += nout - sent


cdef void fault_close(nc_port *p) noexcept nogil:
    cdef FaultPortState *fp = <FaultPortState *>p
    cdef FaultDir *d
    cdef uint32_t idx
    cdef int k
    for k in range(2):
        d = &fp.dirs[k]
        while d.q_len:
            idx = fault_q_pop_due(fp, d, <uint64_t>-1)
            fp.inner.ops.free_burst(fp.inner, &idx, 1)
        if d.nheld:
            fp.inner.ops.free_burst(fp.inner, d.held, d.nheld)
            d.nheld = 0


cdef nc_port_ops FAULT_OPS


FAULT_OPS.rx_burst = fault_rx_burst


FAULT_OPS.tx_burst = fault_tx_burst


FAULT_OPS.alloc_burst = fault_alloc_burst


FAULT_OPS.free_burst = fault_free_burst


FAULT_OPS.next_deadline = fault_next_deadline


FAULT_OPS.wait = fault_wait


FAULT_OPS.link_up = fault_link_up


FAULT_OPS.close = fault_close


cdef uint64_t _prob32(object v, str name) except? 0:
    p = float(v)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"fault {name}={v!r}: a probability must be in [0, 1] (e.g. 0.02 for 2%)")
    return <uint64_t>(p * 4294967296.0) if p < 1.0 else (1 << 32)


cdef class FaultPort(Port):
    """Seeded impairments on top of another port. Parameters (probabilities
    per frame, in [0, 1]): loss, dup, reorder, corrupt; delay_ns;
    reorder_depth (how many later frames a reordered frame lets pass, default
    1) and hold_ns (how long it may wait for them, default 1 ms); seed;
    direction 'both' (default), 'tx' or 'rx'."""
    cdef FaultPortState *fp
    cdef readonly dict params

    def __dealloc__(self):
        if self.fp != NULL:
            free(self.fp)
            self.fp = NULL

    def __init__(self, Port inner, loss=0.0, dup=0.0, reorder=0.0, corrupt=0.0,
                 delay_ns=0, hold_ns=1_000_000, reorder_depth=1, seed=1, direction="both"):
        if direction not in ("both", "tx", "rx"):
            raise ValueError(f"fault direction must be 'both', 'tx' or 'rx', not {direction!r}")
        if not 1 <= int(reorder_depth) <= FAULT_DEPTH_MAX:
            raise ValueError(f"fault reorder_depth={reorder_depth!r}: the number of later frames "
                             f"a reordered frame lets pass, 1 to {FAULT_DEPTH_MAX}")
        self.fp = <FaultPortState *>calloc(1, sizeof(FaultPortState))
        if self.fp == NULL:
            raise MemoryError()
        self.inner = inner
        self.p = &self.fp.port
        self.fp.inner = inner.p
        self.p.ops = &FAULT_OPS
        self.p.pools[0] = inner.p.pools[0]
        self.p.pools[1] = inner.p.pools[1]
        memcpy(self.p.mac, inner.p.mac, 6)
        self.p.mtu = inner.p.mtu
        self.p.caps = inner.p.caps & ~NC_CAP_TX_REF    # it holds or copies out frames
        cdef FaultDir *d
        cdef int k
        self.params = dict(loss=loss, dup=dup, reorder=reorder, corrupt=corrupt,
                           delay_ns=delay_ns, hold_ns=hold_ns, reorder_depth=reorder_depth,
                           seed=seed, direction=direction)
        for k in range(2):
            d = &self.fp.dirs[k]
            d.enabled = direction == "both" or (direction == "tx") == (k == FAULT_TX)
            d.rng = (<uint64_t>int(seed) * 0x100000001B3ULL) ^ (0xA5A5 + k * 0x5bd1e995)
            d.loss = _prob32(loss, "loss")
            d.dup = _prob32(dup, "dup")
            d.reorder = _prob32(reorder, "reorder")
            d.corrupt = _prob32(corrupt, "corrupt")
            d.delay_ns = int(delay_ns)
            d.hold_ns = int(hold_ns)
            d.depth = int(reorder_depth)
            d.nheld = 0
            d.q_head = NC_BUF_NONE
            d.q_tail = NC_BUF_NONE
        self.uri = inner.uri

    def _own_stats(self):
        cdef nc_port_stats *s = &self.p.stats
        return {
            "fault_lost": s.fault_lost, "fault_duplicated": s.fault_duplicated,
            "fault_reordered": s.fault_reordered, "fault_corrupted": s.fault_corrupted,
            "fault_delayed": s.fault_delayed, "fault_tx_dropped": s.tx_dropped,
            "fault_held": self.fp.dirs[0].q_len + self.fp.dirs[1].q_len
                          + self.fp.dirs[0].nheld + self.fp.dirs[1].nheld,
        }

    def _close(self):
        fault_close(self.p)
