# The hashed timing wheel (Varghese & Lauck, scheme 6) for every TCP timer:
# retransmission, delayed ACK, persist, keepalive, TIME_WAIT.
#
# One node per connection, keyed by the earliest of its timers (Tcb.deadline);
# when it fires, tcp_on_timer looks at which of the connection's timers are
# due and re-arms the node. Slots are `tick_ns` wide; an entry whose deadline
# lies a full rotation or more ahead stays in its slot and is skipped until
# its turn. cur_tick is the first tick not yet fully processed, so a timer is
# never skipped however late poll() is called.


cdef inline void wheel__unlink(StackState *st, Tcb *t) noexcept nogil:
    if t.t_slot == NC_BUF_NONE:
        return
    if t.t_prev != NC_BUF_NONE:
        st.tcbs[t.t_prev].t_next = t.t_next
    else:
        st.wheel[t.t_slot] = t.t_next
        if t.t_next == NC_BUF_NONE:         # the slot is empty now
            st.wheel_busy[t.t_slot >> 6] &= ~(<uint64_t>1 << (t.t_slot & 63))
    if t.t_next != NC_BUF_NONE:
        st.tcbs[t.t_next].t_prev = t.t_prev
    t.t_slot = NC_BUF_NONE
    t.t_prev = NC_BUF_NONE
    t.t_next = NC_BUF_NONE


cdef inline uint64_t min_nonzero(uint64_t a, uint64_t b) noexcept nogil:
    if a == 0:
        return b
    if b == 0:
        return a
    return a if a < b else b


cdef void timer_rearm(StackState *st, Tcb *t) noexcept nogil:
    """Put t on the wheel at the earliest of its timers (or take it off)."""
    cdef uint64_t d = min_nonzero(min_nonzero(min_nonzero(t.t_rexmt, t.t_delack),
                                              min_nonzero(t.t_2msl, t.t_persist)), t.t_keep)
    cdef uint64_t tick
    cdef uint32_t slot
    if d == t.deadline and t.t_slot != NC_BUF_NONE:
        return
    wheel__unlink(st, t)
    t.deadline = d
    if d == 0:
        return
    tick = d // st.tick_ns
    if tick < st.cur_tick:
        tick = st.cur_tick
    slot = <uint32_t>(tick & st.wheel_mask)
    t.t_slot = slot
    t.t_prev = NC_BUF_NONE
    t.t_next = st.wheel[slot]
    if t.t_next != NC_BUF_NONE:
        st.tcbs[t.t_next].t_prev = t.id
    st.wheel[slot] = t.id
    st.wheel_busy[slot >> 6] |= <uint64_t>1 << (slot & 63)


cdef void timer_cancel_all(StackState *st, Tcb *t) noexcept nogil:
    t.t_rexmt = 0
    t.t_delack = 0
    t.t_2msl = 0
    t.t_persist = 0
    t.t_keep = 0
    t.deadline = 0
    wheel__unlink(st, t)


cdef enum:
    WHEEL_BATCH = 256           # connections taken off one slot at a time


cdef uint32_t wheel__collect(StackState *st, uint32_t slot, uint64_t now, uint32_t *due) noexcept nogil:
    """Take up to WHEEL_BATCH due connections off one slot into due[]."""
    cdef uint32_t id = st.wheel[slot]
    cdef uint32_t nxt, ndue = 0
    cdef Tcb *t
    while id != NC_BUF_NONE and ndue < WHEEL_BATCH:
        t = &st.tcbs[id]
        nxt = t.t_next
        if t.deadline <= now:
            wheel__unlink(st, t)
            due[ndue] = id
            ndue += 1
        id = nxt
    return ndue


cdef uint32_t timers_run(StackState *st, uint64_t now) noexcept nogil:
    """Fire every timer due at `now`; returns how many connections fired."""
    cdef uint64_t now_tick = now // st.tick_ns
    cdef uint32_t due[WHEEL_BATCH]
    cdef uint32_t ndue, i, fired = 0
    cdef uint64_t tick
    if now_tick < st.cur_tick:
        return 0
    if now_tick - st.cur_tick >= WHEEL_SLOTS:
        # A long gap (or a virtual clock jump): one full pass sees every slot.
        tick = now_tick - WHEEL_SLOTS + 1
    else:
        tick = st.cur_tick
    while tick <= now_tick:
        while True:
            ndue = wheel__collect(st, <uint32_t>(tick & st.wheel_mask), now, due)
            for i in range(ndue):
                tcp_on_timer(st, &st.tcbs[due[i]], now)
            fired += ndue
            if ndue < WHEEL_BATCH:
                break
        tick += 1
    st.cur_tick = now_tick      # this tick may still hold later deadlines
    return fired


cdef uint64_t timers_next_deadline(StackState *st) noexcept nogil:
    """Earliest armed deadline, or 0 when no timer is armed. Visits only
    occupied slots (wheel_busy), so an idle poll with one timer seconds
    away reads 64 words, not 4096 slots."""
    cdef uint64_t tick = st.cur_tick
    cdef uint64_t best = 0, bits
    cdef uint32_t k = 0, slot, id
    cdef Tcb *t
    while k < WHEEL_SLOTS:
        slot = <uint32_t>((tick + k) & st.wheel_mask)
        bits = st.wheel_busy[slot >> 6] >> (slot & 63)
        if bits == 0:
            k += 64 - (slot & 63)           # the rest of this word is empty
            continue
        k += nc_ctz64(bits)
        if k >= WHEEL_SLOTS:
            break
        id = st.wheel[(tick + k) & st.wheel_mask]
        while id != NC_BUF_NONE:
            t = &st.tcbs[id]
            # (a deadline already past falls in here too: its tick is below tick + k)
            if t.deadline // st.tick_ns <= tick + k:
                best = min_nonzero(best, t.deadline)
            id = t.t_next
        if best:
            return best
        k += 1
    # everything armed is more than a rotation away: take the minimum
    for k in range(WHEEL_SLOTS):
        id = st.wheel[k]
        while id != NC_BUF_NONE:
            best = min_nonzero(best, st.tcbs[id].deadline)
            id = st.tcbs[id].t_next
    return best
