# RACK's per-segment transmit records (RFC 8985 6.1): when each run of
# bytes in flight was last sent, and whether it was retransmitted, is deemed
# lost, or was SACKed. The ring lives in the send arena's side area, one per
# window slot (tcb.pxd SegRing), so it exists only while data is in flight:
# an idle connection has no slot and pays nothing.
#
# Records are runs in sequence order covering [SND.UNA, end of the last
# run): the first run starts at SND.UNA, each next one where the previous
# ends. A run is what went out at one instant with the same flags —
# segments sent in one burst share a run — and is split where a SACK block
# or a retransmission begins or ends, so what RACK compares is exactly
# "the bytes sent at time T". Past SEG_RING_N runs the two oldest merge,
# taking the later send time: they are then deemed lost later, never sooner.
# Runs cover data only; the FIN is left to the tail-loss probe and the RTO.


cdef inline uint32_t seg_now_us(const StackState *st) noexcept nogil:
    """Send times are kept in µs, 32 bits, compared by difference (wraps
    after 71 minutes; a run older than half that is long gone)."""
    return <uint32_t>(st.now // 1000)


cdef inline uint32_t seg_stamp(SegRing *g, uint32_t now) noexcept nogil:
    """A send stamp later than every earlier one of the ring: RACK must know
    which of two runs went first, and a burst (or a virtual clock) sends
    many in one µs, a retransmission and then new data. A stamp runs ahead
    of the clock by at most the number of runs sent within one µs, which
    only makes RACK mark a little later."""
    if <int32_t>(now - g.last_us) <= 0:
        now = g.last_us + 1
    g.last_us = now
    return now


cdef inline uint32_t seg_age_us(uint32_t now, uint32_t stamp) noexcept nogil:
    """How long ago a run was sent (0 for a stamp ahead of the clock)."""
    return <uint32_t>(now - stamp) if <int32_t>(now - stamp) > 0 else 0


cdef inline SegRing *seg_ring(const StackState *st, const Tcb *t) noexcept nogil:
    """t's records, NULL when it has no send window slot (nothing in
    flight) or RACK is off."""
    if t.snd.base == NULL or st.snd_arena.side == NULL or not rack_on(t):
        return NULL
    return <SegRing *>arena_side(&st.snd_arena, t.snd.slot)


cdef inline uint32_t seg_start(const SegRing *g, uint32_t una, uint32_t i) noexcept nogil:
    return g.r[i - 1].end if i else una


cdef inline void seg_remove(SegRing *g, uint32_t i, uint32_t k) noexcept nogil:
    """Drop runs [i, i + k)."""
    memmove(&g.r[i], &g.r[i + k], (g.n - i - k) * sizeof(SegRec))
    memmove(&g.flags[i], &g.flags[i + k], g.n - i - k)
    g.n -= k


cdef inline void seg_insert(SegRing *g, uint32_t i, uint32_t end, uint32_t xmit_us,
                            uint8_t flags) noexcept nogil:
    """A run before index i (the caller made room)."""
    memmove(&g.r[i + 1], &g.r[i], (g.n - i) * sizeof(SegRec))
    memmove(&g.flags[i + 1], &g.flags[i], g.n - i)
    g.r[i].end = end
    g.r[i].xmit_us = xmit_us
    g.flags[i] = flags
    g.n += 1


cdef void seg_trim(SegRing *g, uint32_t una) noexcept nogil:
    """Forget runs the cumulative ACK covers."""
    cdef uint32_t k = 0
    while k < g.n and seq_leq(g.r[k].end, una):
        k += 1
    if k:
        seg_remove(g, 0, k)


cdef void seg_make_room(SegRing *g, uint32_t need) noexcept nogil:
    """Merge neighbouring runs until `need` records are free: of the pairs
    with the same flags, the one sent closest together (the oldest on a
    tie), so that what is SACKed, lost or resent stays exact and only send
    times get coarser; the merged run counts as sent at the later time (lost
    later, never sooner). Only if every neighbour differs the two oldest
    merge, SACKed only if both were, lost or resent if either was."""
    cdef uint32_t i, best
    cdef uint32_t gap, best_gap
    cdef uint8_t f0, f1
    while g.n + need > SEG_RING_N and g.n >= 2:
        best = 0
        best_gap = 0xFFFFFFFF
        for i in range(g.n - 1):
            if g.flags[i] == g.flags[i + 1]:
                gap = g.r[i + 1].xmit_us - g.r[i].xmit_us
                if <int32_t>gap < 0:
                    gap = -gap
                if gap < best_gap:
                    best_gap = gap
                    best = i
        f0 = g.flags[best]
        f1 = g.flags[best + 1]
        if <int32_t>(g.r[best].xmit_us - g.r[best + 1].xmit_us) > 0:
            g.r[best + 1].xmit_us = g.r[best].xmit_us
        g.flags[best + 1] = (f0 & f1 & SR_SACKED) | ((f0 | f1) & (SR_RXT | SR_LOST))
        seg_remove(g, best, 1)


cdef uint32_t seg_split(SegRing *g, uint32_t una, uint32_t at) noexcept nogil:
    """Make `at` a run boundary; the index of the first run starting at or
    after it (g.n if none). Needs one free record."""
    cdef uint32_t i, start = una
    for i in range(g.n):
        if seq_leq(at, start):
            return i
        if seq_lt(at, g.r[i].end):
            seg_insert(g, i, at, g.r[i].xmit_us, g.flags[i])
            return i + 1
        start = g.r[i].end
    return g.n


cdef void seg_sent(StackState *st, Tcb *t, uint32_t seq, uint32_t n, bint rxt) noexcept nogil:
    """n data bytes from seq just went out: new data (appended, or merged
    into the last run when sent at the same instant) or a retransmission
    (its runs get the new send time and SR_RXT; lost and SACKed marks go)."""
    cdef SegRing *g = seg_ring(st, t)
    cdef uint32_t now, end, i, j, last
    if g == NULL or n == 0:
        return
    now = seg_now_us(st)
    end = seq + n
    if not rxt and seq == t.snd_una:
        # nothing was in flight: a fresh ring (the slot may have served
        # another connection), and RACK starts over from this flight
        g.n = 0
        g.has_rack = 0
        g.rack_fack = t.snd_una
        g.last_us = now - 1
    seg_trim(g, t.snd_una)
    if seq_lt(seq, t.snd_una):
        seq = t.snd_una
    if not seq_lt(seq, end):
        return
    last = g.r[g.n - 1].end if g.n else t.snd_una
    if seq_lt(last, seq):
        # bytes in flight the ring never saw (RACK was off, or the ring was
        # reset): a run of unknown age, counted as just sent
        seg_make_room(g, 1)
        seg_insert(g, g.n, seq, seg_stamp(g, now), 0)
        last = seq
    if not rxt and seq == last:
        if (g.n and g.flags[g.n - 1] == 0 and g.r[g.n - 1].xmit_us == g.last_us and
                <int32_t>(now - g.last_us) <= 0):
            g.r[g.n - 1].end = end          # the same burst, nothing sent between: the same run
            return
        seg_make_room(g, 1)
        seg_insert(g, g.n, end, seg_stamp(g, now), 0)
        return
    # a retransmission (or bytes below the last run's end sent again)
    if seq_gt(end, last):
        seg_sent(st, t, last, end - last, False)    # the part beyond is new
        end = last
    seg_make_room(g, 2)
    i = seg_split(g, t.snd_una, seq)
    j = seg_split(g, t.snd_una, end)
    if j <= i:
        return
    g.r[i].end = end
    g.flags[i] = SR_RXT
    if j > i + 1:
        seg_remove(g, i + 1, j - i - 1)
    if (i and g.flags[i - 1] == SR_RXT and g.r[i - 1].xmit_us == g.last_us and
            <int32_t>(now - g.last_us) <= 0):
        g.r[i - 1].end = end                # resent right after the run before: one run
        seg_remove(g, i, 1)
    else:
        g.r[i].xmit_us = seg_stamp(g, now)


cdef bint seg_is_lost(const StackState *st, const Tcb *t, uint32_t seq) noexcept nogil:
    """Is the byte at seq in a run deemed lost (and not resent since)?"""
    cdef const SegRing *g = seg_ring(st, t)
    cdef uint32_t i, start
    if g == NULL:
        return False
    start = t.snd_una
    for i in range(g.n):
        if seq_lt(seq, g.r[i].end):
            return seq_geq(seq, start) and (g.flags[i] & (SR_LOST | SR_SACKED)) == SR_LOST
        start = g.r[i].end
    return False


cdef bint seg_any_lost(const StackState *st, const Tcb *t) noexcept nogil:
    cdef const SegRing *g = seg_ring(st, t)
    cdef uint32_t i
    if g == NULL:
        return False
    for i in range(g.n):
        if (g.flags[i] & (SR_LOST | SR_SACKED)) == SR_LOST and seq_gt(g.r[i].end, t.snd_una):
            return True
    return False


cdef uint32_t seg_lost_bytes(const StackState *st, const Tcb *t, uint32_t a, uint32_t b) noexcept nogil:
    """Bytes of [a, b) in runs deemed lost and not resent (outside the pipe)."""
    cdef const SegRing *g = seg_ring(st, t)
    cdef uint32_t i, start, lo, hi, n = 0
    if g == NULL:
        return 0
    start = t.snd_una
    for i in range(g.n):
        if not seq_lt(start, b):
            break
        if (g.flags[i] & (SR_LOST | SR_SACKED)) == SR_LOST:
            lo = seq_max(start, a)
            hi = seq_min(g.r[i].end, b)
            if seq_lt(lo, hi):
                n += hi - lo
        start = g.r[i].end
    return n


cdef bint seg_next_lost(const StackState *st, const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil:
    """The first run deemed lost and not resent: what NextSeg sends first
    with RACK (RFC 8985 6.3). Runs are split at SACK edges, so it holds no
    SACKed byte."""
    cdef const SegRing *g = seg_ring(st, t)
    cdef uint32_t i, start
    if g == NULL:
        return False
    start = t.snd_una
    for i in range(g.n):
        if (g.flags[i] & (SR_LOST | SR_SACKED)) == SR_LOST and seq_gt(g.r[i].end, start):
            seq[0] = seq_max(start, t.snd_una)
            length[0] = g.r[i].end - seq[0]
            return True
        start = g.r[i].end
    return False


cdef void seg_forget_sacks(StackState *st, Tcb *t) noexcept nogil:
    """After an RTO: the scoreboard is no longer trusted (RFC 2018 8) and
    everything is resent from SND.UNA, so no run stays SACKed or lost."""
    cdef SegRing *g = seg_ring(st, t)
    cdef uint32_t i
    if g == NULL:
        return
    for i in range(g.n):
        g.flags[i] &= ~(SR_SACKED | SR_LOST)
