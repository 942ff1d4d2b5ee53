# The poll loop:
#
#   poll(now) = rx_burst -> classify each frame -> drain the channels that
#               got frames (TCP input in the consumer's context, batched per
#               connection) -> run due timers, expire TIME_WAIT records ->
#               output (a connection left in TIME_WAIT becomes a record) -> tx_burst
#
# and every 100 ms the port counters copied to the stats segment and the
# link checked (a dead shm peer's connections aborted).

cdef void stack_drain_listener(StackState *st, int32_t lid) noexcept nogil:
    cdef Listener *l = &st.listeners[lid]
    cdef uint32_t bufs[BURST]
    cdef uint32_t k, i, id
    cdef nc_buf *nb
    cdef TcpHdr th
    cdef uint8_t mac[8]
    while True:
        k = nc_ring_dequeue_burst(l.chan, bufs, BURST)
        if k == 0:
            break
        for i in range(k):
            nb = nc_port_buf(st.port, bufs[i])
            if not buf_tcp(st, bufs[i], &th):
                continue
            memcpy(mac, &nb.user[2], 6)
            # a retransmitted SYN may find the connection its first copy made
            id = flow_lookup(st, <uint32_t>(nb.user[1] >> 32), <uint32_t>nb.user[1], th.sport,
                             th.dport)
            if id != NC_BUF_NONE:
                tcp_input(st, &st.tcbs[id], &th)
            elif l.active:
                tcp_listen_input(st, lid, <uint32_t>nb.user[1], <uint32_t>(nb.user[1] >> 32), mac, &th)
        st.port.ops.free_burst(st.port, bufs, k)


cdef void stack_drain_tcb(StackState *st, Tcb *t) noexcept nogil:
    """The consumer side of a connection's channel: TCP input for every
    segment queued this poll, in arrival order. Then the channel goes back
    to the pool (frames left in it when the connection closed meanwhile are
    freed), so that no connection holds one between polls."""
    cdef uint32_t bufs[BURST]
    cdef uint32_t k, i
    cdef nc_buf *nb
    cdef TcpHdr th
    cdef uint8_t mac[8]
    while t.state != CLOSED and t.chan:
        k = nc_ring_dequeue_burst(stack_chan_at(st, t.chan - 1), bufs, BURST)
        if k == 0:
            break
        for i in range(k):
            if t.state == CLOSED:
                break
            if not buf_tcp(st, bufs[i], &th):
                continue
            if t.state == TIME_WAIT and th.flags & TCP_SYN:
                # a new incarnation may take the 4-tuple over (TCP decides)
                nb = nc_port_buf(st.port, bufs[i])
                memcpy(mac, &nb.user[2], 6)
                if tcp_time_wait_takeover(st, t, &th, <uint32_t>nb.user[1],
                                          <uint32_t>(nb.user[1] >> 32), mac):
                    # t was freed (its channel emptied and given back)
                    st.port.ops.free_burst(st.port, bufs, k)
                    return
            # An ACK the previous segment of this burst asked for (every
            # second full segment; at once for out-of-order data) goes out
            # before the next one is taken in: one ACK per burst would be a
            # stretch ACK that stalls the peer's slow start and hides the
            # duplicate ACKs of a loss (RFC 5681 4.2, RFC 1122 4.2.3.2).
            if t.flags & TF_ACK_NOW and t.state >= ESTABLISHED:
                tcp_send_ack(st, t)
            tcp_input(st, t, &th)
        st.port.ops.free_burst(st.port, bufs, k)
    while t.chan:                   # closed meanwhile: what it will never read
        k = nc_ring_dequeue_burst(stack_chan_at(st, t.chan - 1), bufs, BURST)
        if k == 0:
            t.chan = 0
            break
        st.port.ops.free_burst(st.port, bufs, k)


cdef void stack_output(StackState *st) noexcept nogil:
    """Run tcp_output for every connection scheduled, then send the batch."""
    cdef uint32_t i = 0
    cdef Tcb *t
    while i < st.noutq:
        t = &st.tcbs[st.outq[i]]
        t.in_outq = 0
        if t.state != CLOSED:
            tcp_output(st, t)
            if t.state == TIME_WAIT and not (t.flags & TF_HANDLE):
                # its last ACK is out: TIME_WAIT goes on in a record
                tcp_time_wait_record(st, t)
        i += 1
    st.noutq = 0
    tx_flush(st)


cdef void stack_copy_port_stats(StackState *st) noexcept nogil:
    cdef nc_port *p = st.port
    cdef int i = 0
    while p != NULL and i < 4:
        st.stats_ports[i] = p.stats
        p = p.inner
        i += 1


cdef int _ECONNABORTED = _errno.ECONNABORTED


cdef uint64_t stack_port_peer_lost(StackState *st) noexcept nogil:
    """Deaths of the host at the other end, as the port chain counts them."""
    cdef nc_port *p = st.port
    cdef uint64_t n = 0
    while p != NULL:
        n += p.stats.peer_lost
        p = p.inner
    return n


cdef void stack_check_link(StackState *st) noexcept nogil:
    """Every 100 ms: on a port whose link going down means the host at the
    other end died (NC_CAP_PEER_HOST: the shm link), what that host had is
    gone for good: its connections are aborted (ECONNABORTED, after the
    data already received is read) and its frames still waiting in UDP
    sockets are dropped, so that this stack holds none of its buffers and a
    restarted peer can take its place (ports/link.pxi). The port finds the
    death when link_up() is asked, here or by the application."""
    cdef uint64_t lost
    cdef nc_port *p
    if not (st.port.caps & NC_CAP_PEER_HOST):
        return
    st.port.ops.link_up(st.port)
    lost = stack_port_peer_lost(st)
    if lost != st.peer_lost_seen:
        st.peer_lost_seen = lost
        stack_peer_lost(st)
        # tell each port that we hold nothing of its lost peers any more
        p = st.port
        while p != NULL:
            p.peer_lost_handled = p.stats.peer_lost
            p = p.inner


cdef void stack_peer_lost(StackState *st) noexcept nogil:
    cdef uint32_t i, k
    cdef uint32_t bufs[BURST]
    cdef Tcb *t
    st.ctr[C_LINK_PEER_LOST] += 1
    stack_windows_peer_lost(st)
    for i in range(st.cfg.max_conns):
        t = &st.tcbs[i]
        if t.state != CLOSED and t.state != LISTEN:
            tcp_closed(st, t, _ECONNABORTED)
    for i in range(st.max_udp):
        if st.udps[i].active and st.udps[i].chan != NULL:
            while True:
                k = nc_ring_dequeue_burst(st.udps[i].chan, bufs, BURST)
                if k == 0:
                    break
                st.ctr[C_LINK_PEER_LOST_FRAMES] += k
                st.port.ops.free_burst(st.port, bufs, k)


cdef uint32_t stack_poll(StackState *st, uint64_t now) noexcept nogil:
    """One turn of the loop. Returns a measure of the work done (0 = idle)."""
    cdef uint32_t bufs[BURST]
    cdef uint32_t k, i, rounds = 0
    if now > st.now:
        st.now = now
    st.progress = 0
    st.ctr[C_POLLS] += 1
    if st.board_me != NULL:
        stack_windows_check(st)     # a (new) shm peer whose send windows to read in place
    while rounds < RX_ROUNDS:
        k = st.port.ops.rx_burst(st.port, bufs, BURST, st.now)
        for i in range(k):
            stack_rx_frame(st, bufs[i])
        st.progress += k
        rounds += 1
        if k < BURST:
            break
    for i in range(st.nlisten_active):
        st.listeners[st.listen_active[i]].in_active = False
        stack_drain_listener(st, st.listen_active[i])
    st.nlisten_active = 0
    i = 0
    while i < st.nactive:
        stack_drain_tcb(st, &st.tcbs[st.active[i]])
        i += 1
    st.nactive = 0
    timers_run(st, st.now)
    tw_expire(st, st.now)
    arp_tick(st)
    nd_tick(st)
    router6_tick(st)
    frag_expire(st)
    stack_output(st)
    if st.now >= st.stats_next_copy:
        stack_copy_port_stats(st)
        stack_check_link(st)
        st.stats_next_copy = st.now + 100000000
    return st.progress


cdef uint32_t stack_poll_and_sweep(StackState *st, uint64_t now) noexcept nogil:
    """stack_poll, then the window arenas' sweep: pages of long-free slots
    punched, slots the shm peer stopped reading recycled (mem/arena.pxi)."""
    cdef uint32_t r = stack_poll(st, now)
    arena_tick(&st.rcv_arena, st.now)
    arena_tick(&st.snd_arena, st.now)
    return r


cdef uint64_t stack_next_deadline(StackState *st) noexcept nogil:
    """Earliest time something is due without new input (0 = nothing)."""
    cdef uint64_t d = min_nonzero(timers_next_deadline(st), tw_next_deadline(st))
    cdef uint64_t p = st.port.ops.next_deadline(st.port)
    cdef uint32_t i
    if p != <uint64_t>-1:
        d = min_nonzero(d, p)
    for i in range(ARP_TABLE_SIZE):
        if st.arp[i].state == ARP_INCOMPLETE:
            # arp_tick looks at the table only from arp_next_scan on: a retry
            # due before that is not due until then (reporting the earlier
            # time would have a virtual clock wait for it forever)
            d = min_nonzero(d, st.arp[i].next_request if st.arp[i].next_request > st.arp_next_scan
                            else st.arp_next_scan)
    if st.frag_active:
        for i in range(st.nfrags):
            if st.frags[i].active:
                d = min_nonzero(d, st.frags[i].expires)
    if st.v6.n_addr:
        d = min_nonzero(d, nd_next_deadline(st))
        d = min_nonzero(d, router6_next_deadline(st))
    return d
