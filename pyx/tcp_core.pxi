# TCP plumbing shared by input, output and timers: sequence arithmetic, the
# ISN generator, the flow table, control-block lifetime and the one function
# that changes a connection's state.

# ---- sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 3.4) ----------

cdef inline bint seq_lt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0

cdef inline bint seq_leq(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) <= 0

cdef inline bint seq_gt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) > 0

cdef inline bint seq_geq(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) >= 0

cdef inline uint32_t seq_max(uint32_t a, uint32_t b) noexcept nogil:
    return b if seq_lt(a, b) else a

cdef inline uint32_t seq_min(uint32_t a, uint32_t b) noexcept nogil:
    return a if seq_lt(a, b) else b


# ---- keyed hashing: SipHash-2-4 over the 4-tuple ------------------------------

cdef inline uint64_t rotl64(uint64_t x, int b) noexcept nogil:
    return (x << b) | (x >> (64 - b))

cdef inline void sipround(uint64_t *v) noexcept nogil:
    v[0] += v[1]; v[1] = rotl64(v[1], 13); v[1] ^= v[0]; v[0] = rotl64(v[0], 32)
    v[2] += v[3]; v[3] = rotl64(v[3], 16); v[3] ^= v[2]
    v[0] += v[3]; v[3] = rotl64(v[3], 21); v[3] ^= v[0]
    v[2] += v[1]; v[1] = rotl64(v[1], 17); v[1] ^= v[2]; v[2] = rotl64(v[2], 32)

cdef uint64_t siphash_tuple(uint64_t k0, uint64_t k1, uint32_t laddr, uint32_t raddr,
                            uint16_t lport, uint16_t rport, uint32_t extra) noexcept nogil:
    """SipHash-2-4 of the 16-byte message laddr|raddr|lport|rport|extra."""
    cdef uint64_t v[4]
    cdef uint64_t m0 = <uint64_t>laddr | (<uint64_t>raddr << 32)
    cdef uint64_t m1 = <uint64_t>lport | (<uint64_t>rport << 16) | (<uint64_t>extra << 32)
    cdef uint64_t b = <uint64_t>16 << 56
    v[0] = k0 ^ 0x736f6d6570736575ULL
    v[1] = k1 ^ 0x646f72616e646f6dULL
    v[2] = k0 ^ 0x6c7967656e657261ULL
    v[3] = k1 ^ 0x7465646279746573ULL
    v[3] ^= m0; sipround(v); sipround(v); v[0] ^= m0
    v[3] ^= m1; sipround(v); sipround(v); v[0] ^= m1
    v[3] ^= b; sipround(v); sipround(v); v[0] ^= b
    v[2] ^= 0xff
    sipround(v); sipround(v); sipround(v); sipround(v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


cdef inline uint32_t tcp_isn(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                             uint16_t rport, uint64_t now) noexcept nogil:
    """RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock."""
    return <uint32_t>(now // 4000) + <uint32_t>siphash_tuple(
        st.isn_key0, st.isn_key1, laddr, raddr, lport, rport, 0)


# ---- the flow table: (raddr, rport, lport) -> Tcb id ---------------------------
# Open addressing with linear probing and backward-shift deletion (no
# tombstones, so probe chains never rot). Slot.hash 0 marks an empty slot;
# real hashes are forced odd.

cdef inline uint32_t flow_hash(StackState *st, uint32_t raddr, uint16_t rport,
                               uint16_t lport) noexcept nogil:
    cdef uint64_t x = (<uint64_t>raddr << 32) | (<uint64_t>rport << 16) | lport
    x ^= st.isn_key1
    x ^= x >> 33
    x *= 0xff51afd7ed558ccdULL
    x ^= x >> 33
    x *= 0xc4ceb9fe1a85ec53ULL
    x ^= x >> 33
    return <uint32_t>x | 1


cdef inline uint32_t flow_lookup(StackState *st, uint32_t raddr, uint16_t rport,
                                 uint16_t lport) noexcept nogil:
    cdef uint32_t h = flow_hash(st, raddr, rport, lport)
    cdef uint32_t i = h & st.flow_mask
    cdef FlowSlot *s
    cdef Tcb *t
    while True:
        s = &st.flows[i]
        if s.hash == 0:
            return NC_BUF_NONE
        if s.hash == h:
            t = &st.tcbs[s.tcb]
            if t.raddr == raddr and t.rport == rport and t.lport == lport:
                return s.tcb
        i = (i + 1) & st.flow_mask


cdef void flow_insert(StackState *st, Tcb *t) noexcept nogil:
    cdef uint32_t h = flow_hash(st, t.raddr, t.rport, t.lport)
    cdef uint32_t i = h & st.flow_mask
    while st.flows[i].hash != 0:
        i = (i + 1) & st.flow_mask
    st.flows[i].hash = h
    st.flows[i].tcb = t.id


cdef void flow_remove(StackState *st, Tcb *t) noexcept nogil:
    cdef uint32_t h = flow_hash(st, t.raddr, t.rport, t.lport)
    cdef uint32_t i = h & st.flow_mask
    cdef uint32_t j, ideal
    while True:
        if st.flows[i].hash == 0:
            return                      # not in the table
        if st.flows[i].tcb == t.id:
            break
        i = (i + 1) & st.flow_mask
    # backward shift: pull later members of the probe chain into the hole
    j = i
    while True:
        j = (j + 1) & st.flow_mask
        if st.flows[j].hash == 0:
            break
        ideal = st.flows[j].hash & st.flow_mask
        # move j into hole i unless j's ideal slot lies cyclically in (i, j]
        if ((j - ideal) & st.flow_mask) >= ((j - i) & st.flow_mask):
            st.flows[i] = st.flows[j]
            i = j
    st.flows[i].hash = 0
    st.flows[i].tcb = NC_BUF_NONE


# ---- state changes and tracing -------------------------------------------------

cdef enum:
    TRACE_SIZE = 1024

cdef struct TraceEntry:
    uint64_t now
    uint32_t tcb
    uint8_t old
    uint8_t new

cdef TraceEntry g_trace[1024]
cdef uint64_t g_trace_n = 0
cdef bint g_trace_on = False


cdef inline void tcp_set_state(StackState *st, Tcb *t, uint8_t new_state) noexcept nogil:
    """The only place a connection's state changes (so it can be traced)."""
    global g_trace_n
    cdef TraceEntry *e
    if g_trace_on:
        e = &g_trace[g_trace_n % TRACE_SIZE]
        e.now = st.now
        e.tcb = t.id
        e.old = t.state
        e.new = new_state
        g_trace_n += 1
    if new_state == ESTABLISHED:
        st.ctr[C_TCP_ESTABLISHED] += 1
    t.state = new_state


def trace_transitions(bint enable=True):
    """Record every TCP state change (all stacks in this process) in a ring
    of the last 1024; read them with trace_read()."""
    global g_trace_on, g_trace_n
    g_trace_on = enable
    g_trace_n = 0


def trace_read():
    """[(now_ns, tcb_id, old_state, new_state)] oldest first, as state names."""
    cdef uint64_t n = g_trace_n
    cdef uint64_t start = n - TRACE_SIZE if n > TRACE_SIZE else 0
    cdef TraceEntry *e
    out = []
    for i in range(start, n):
        e = &g_trace[i % TRACE_SIZE]
        out.append((e.now, e.tcb, TCP_STATE_NAMES[e.old], TCP_STATE_NAMES[e.new]))
    return out


# ---- control block lifetime ------------------------------------------------------

cdef inline nc_ring *tcb_chan_at(StackState *st, uint32_t id) noexcept nogil:
    return <nc_ring *>(st.chan_mem + <size_t>id * st.chan_stride)


cdef Tcb *tcb_alloc(StackState *st) noexcept nogil:
    """A zeroed control block with windows and a channel, or NULL (counted)."""
    cdef uint32_t id, gen
    cdef Tcb *t
    if st.tcb_nfree == 0:
        st.ctr[C_TCP_CONN_TABLE_FULL] += 1
        return NULL
    st.tcb_nfree -= 1
    id = st.tcb_free[st.tcb_nfree]
    t = &st.tcbs[id]
    gen = t.gen
    memset(t, 0, sizeof(Tcb))
    t.id = id
    t.gen = gen
    t.state = CLOSED
    t.listener = -1
    t.t_slot = NC_BUF_NONE
    t.t_prev = NC_BUF_NONE
    t.t_next = NC_BUF_NONE
    t.rcv.slot = NC_BUF_NONE
    t.snd.slot = NC_BUF_NONE
    t.rcv_pin = <uint64_t>-1
    t.fin_off = <uint64_t>-1
    t.chan = tcb_chan_at(st, id)
    nc_ring_init(t.chan, st.cfg.chan_size)
    # per-connection settings start from the stack's defaults
    t.cc = st.cfg.cc
    if st.cfg.nodelay:
        t.flags |= TF_NODELAY
    t.keep_cnt = st.cfg.keep_cnt
    t.keep_idle = st.cfg.keep_idle_ns
    t.keep_intvl = st.cfg.keep_intvl_ns
    if not window_attach(&t.rcv, &st.rcv_arena) or not window_attach(&t.snd, &st.snd_arena):
        window_detach(&t.rcv, &st.rcv_arena)
        window_detach(&t.snd, &st.snd_arena)
        st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
        st.tcb_free[st.tcb_nfree] = id
        st.tcb_nfree += 1
        return NULL
    st.n_conns += 1
    return t


cdef void tcb_free(StackState *st, Tcb *t) noexcept nogil:
    """Forget a connection entirely. Handles held by the application notice
    the generation change."""
    cdef uint32_t bufs[BURST]
    cdef uint32_t k
    if t.state != CLOSED:
        tcp_set_state(st, t, CLOSED)
    timer_cancel_all(st, t)
    flow_remove(st, t)
    while True:
        k = nc_ring_dequeue_burst(t.chan, bufs, BURST)
        if k == 0:
            break
        st.port.ops.free_burst(st.port, bufs, k)
    window_detach(&t.rcv, &st.rcv_arena)
    window_detach(&t.snd, &st.snd_arena)
    t.gen += 1
    t.flags = 0
    st.tcb_free[st.tcb_nfree] = t.id
    st.tcb_nfree += 1
    st.n_conns -= 1
    st.ctr[C_TCP_CLOSED] += 1
