# A stack's C state from birth to death: the tables sized by max_conns, the
# keys, the window arenas, and freeing all of it. The API fills st.cfg from
# its checked settings in between (pyx/api/stack.pxi).

cdef StackState *stack_state_alloc(uint32_t max_conns, uint32_t frag_datagrams,
                                   uint32_t max_time_wait) noexcept nogil:
    """A zeroed StackState with every table allocated for max_conns
    connections and max_time_wait TIME_WAIT records, or NULL (what was
    allocated is freed). The channel pool's memory is the caller's to map
    (st.chan_stride x CHAN_POOL bytes, then stack_state_channels)."""
    cdef StackState *st = <StackState *>calloc(1, sizeof(StackState))
    cdef uint32_t i, fsize
    if st == NULL:
        return NULL
    st.rcv_arena.fd = -1
    st.snd_arena.fd = -1
    st.cfg.max_conns = max_conns
    st.cfg.max_time_wait = max_time_wait
    st.tcbs = <Tcb *>calloc(max_conns, sizeof(Tcb))
    st.tcb_free = <uint32_t *>malloc(max_conns * sizeof(uint32_t))
    st.active = <uint32_t *>malloc(max_conns * sizeof(uint32_t))
    st.outq = <uint32_t *>malloc(max_conns * sizeof(uint32_t))
    fsize = 1024
    while fsize < 2 * max_conns:
        fsize <<= 1
    st.flows = <FlowSlot *>calloc(fsize, sizeof(FlowSlot))
    st.flow_mask = fsize - 1
    st.wheel = <uint32_t *>malloc(WHEEL_SLOTS * sizeof(uint32_t))
    st.wheel_busy = <uint64_t *>calloc(WHEEL_SLOTS // 64, sizeof(uint64_t))
    st.wheel_mask = WHEEL_SLOTS - 1
    st.max_listeners = 256
    st.listeners = <Listener *>calloc(st.max_listeners, sizeof(Listener))
    st.listen_active = <int32_t *>malloc(st.max_listeners * sizeof(int32_t))
    st.listen_by_port = <int32_t *>malloc(PORT_SPACE * sizeof(int32_t))
    st.max_udp = 1024
    st.udps = <UdpSock *>calloc(st.max_udp, sizeof(UdpSock))
    st.udp_by_port = <int32_t *>malloc(PORT_SPACE * sizeof(int32_t))
    st.scratch = <uint8_t *>malloc(IPV4_MAX_LEN)
    if (st.tcbs == NULL or st.tcb_free == NULL or st.active == NULL or st.outq == NULL or
            st.flows == NULL or st.wheel == NULL or st.wheel_busy == NULL or st.listeners == NULL or
            st.listen_active == NULL or st.listen_by_port == NULL or st.udps == NULL or
            st.udp_by_port == NULL or st.scratch == NULL or
            frag_init(st, frag_datagrams) != 0 or tw_init(st, max_time_wait) != 0):
        stack_state_free(st)
        return NULL
    # Control blocks are not touched here: calloc'd memory that nobody wrote
    # is not resident, and tcb_alloc sets everything (id, timer links) when
    # a slot is first used; the free list hands out low ids first, so the
    # resident part of the table is about as large as the busiest moment.
    for i in range(max_conns):
        st.tcb_free[i] = max_conns - 1 - i
    st.tcb_nfree = max_conns
    for i in range(fsize):
        st.flows[i].tcb = NC_BUF_NONE
    for i in range(WHEEL_SLOTS):
        st.wheel[i] = NC_BUF_NONE
    for i in range(PORT_SPACE):
        st.listen_by_port[i] = -1
        st.udp_by_port[i] = -1
    st.cfg.chan_size = CHAN_SIZE
    st.cfg.listen_chan_size = 1024
    st.cfg.udp_chan_size = 1024
    st.chan_stride = nc_ring_memsize(CHAN_SIZE)
    st.cfg.arp_timeout_ns = 60 * 1000000000ULL
    st.cfg.arp_retry_ns = 1000000000ULL
    st.cfg.arp_max_tries = 5
    st.arp_gen = 1
    st.v6.conflict_addr = -1
    st.tick_ns = 1000000
    return st


cdef void stack_state_keys(StackState *st, uint64_t isn0, uint64_t isn1, uint64_t cookie0,
                           uint64_t cookie1) noexcept nogil:
    """The secrets: ISNs and ephemeral ports (RFC 6528, RFC 6056), SYN
    cookies, and the first IP identification."""
    st.isn_key0 = isn0
    st.isn_key1 = isn1
    st.cookie_key0 = cookie0
    st.cookie_key1 = cookie1
    st.eph_next = EPHEMERAL_LO + (st.isn_key0 % (EPHEMERAL_HI - EPHEMERAL_LO + 1))
    st.ip_ident = <uint16_t>(st.isn_key1 & 0xffff)


cdef void stack_state_channels(StackState *st, uint8_t *mem) noexcept nogil:
    """Take the channel pool's memory (st.chan_stride x CHAN_POOL bytes,
    cache-line aligned) and make its rings. A connection holds no channel:
    the classifier leases channel k to the k-th connection that gets a frame
    in a poll, and the poll takes it back after that connection's drain
    (iface/poll.pxi), so CHAN_POOL channels serve any number of connections."""
    cdef uint32_t k
    st.chan_mem = mem
    for k in range(CHAN_POOL):
        nc_ring_init(stack_chan_at(st, k), st.cfg.chan_size)


cdef inline nc_ring *stack_chan_at(StackState *st, uint32_t k) noexcept nogil:
    return <nc_ring *>(st.chan_mem + <size_t>k * st.chan_stride)


cdef int stack_state_arenas(StackState *st, uint32_t rcvbuf, uint32_t sndbuf) noexcept nogil:
    """Reserve the receive and send window arenas: 0 or -errno."""
    cdef int rc = arena_init(&st.rcv_arena, rcvbuf, st.cfg.max_conns)
    if rc == 0:
        rc = arena_init(&st.snd_arena, sndbuf, st.cfg.max_conns)
    if rc == 0:
        rc = arena_side_init(&st.snd_arena, sizeof(SegRing))   # RACK's records (tcp/segring.pxi)
    return rc


cdef void stack_state_start(StackState *st, uint64_t now) noexcept nogil:
    """The clock's first reading: timers count from here."""
    st.now = now
    st.cur_tick = now // st.tick_ns
    cdef nc_port *p = st.port
    st.peer_lost_seen = stack_port_peer_lost(st)
    while p != NULL:                # a stack now holds frames: see stack_check_link
        p.peer_lost_handled = p.stats.peer_lost
        p = p.inner


cdef inline void stack_set_now(StackState *st, uint64_t now) noexcept nogil:
    """Time never goes back for a stack (an API call may read the clock
    between two polls; the poll's own reading may be older)."""
    if now > st.now:
        st.now = now


cdef void stack_state_free(StackState *st) noexcept nogil:
    """Free everything stack_state_alloc and stack_state_arenas made; NULL is fine."""
    cdef uint32_t i
    if st == NULL:
        return
    stack_windows_free(st)
    arena_destroy(&st.rcv_arena)
    free(st.peers6)
    arena_destroy(&st.snd_arena)
    for i in range(st.max_listeners if st.listeners != NULL else 0):
        free(st.listeners[i].aq)
        free(st.listeners[i].chan)
    for i in range(st.max_udp if st.udps != NULL else 0):
        free(st.udps[i].chan)
        udp_free_big(&st.udps[i])
        free(st.udps[i].big)
    frag_destroy(st)
    tw_destroy(st)
    free(st.scratch)
    free(st.tcbs)
    free(st.tcb_free)
    free(st.active)
    free(st.outq)
    free(st.flows)
    free(st.wheel)
    free(st.wheel_busy)
    free(st.listeners)
    free(st.listen_active)
    free(st.listen_by_port)
    free(st.udps)
    free(st.udp_by_port)
    free(st)
