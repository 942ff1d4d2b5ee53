# The control block's life: ISNs, allocation and freeing, opening one
# (active, passive or built for a test), the one function that changes a
# connection's state (tcp_set_state, traceable), negotiation of the options a
# SYN brought, and tcp_closed.

cdef enum:
    TRACE_SIZE = 1024

cdef struct TraceEntry:
    uint64_t now
    uint32_t tcb
    uint8_t old
    uint8_t new


TCP_STATE_NAMES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
                   "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
                   "TIME_WAIT")


cdef inline uint32_t tcp_isn(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                             uint16_t rport, uint64_t now) noexcept nogil:
    """RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock."""
    return <uint32_t>(now // 4000) + <uint32_t>siphash_tuple(
        st.isn_key0, st.isn_key1, laddr, raddr, lport, rport, 0)


cdef TraceEntry g_trace[1024]
cdef uint64_t g_trace_n = 0
cdef bint g_trace_on = False


cdef inline void tcp_trace(StackState *st, uint32_t id, uint8_t old, uint8_t new) noexcept nogil:
    """Record a transition when tracing is on."""
    global g_trace_n
    cdef TraceEntry *e
    if g_trace_on:
        e = &g_trace[g_trace_n % TRACE_SIZE]
        e.now = st.now
        e.tcb = id
        e.old = old
        e.new = new
        g_trace_n += 1


cdef inline void tcp_set_state(StackState *st, Tcb *t, uint8_t new_state) noexcept nogil:
    """The only place a connection's state changes (so it can be traced).
    (A connection whose TIME_WAIT moves to a record keeps TIME_WAIT there:
    its end is traced when the record goes, timewait.pxi.)"""
    tcp_trace(st, t.id, t.state, new_state)
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

cdef inline bint tcp_windows_admit(const StackState *st) noexcept nogil:
    """May a new connection start? Only while both of its windows could be
    attached within the stack's window memory limit (window_memory): a
    connection that could never hold a byte is refused up front (ENOBUFS,
    or a RST to a SYN) instead of timing out later."""
    return arena_room(&st.rcv_arena, <uint64_t>st.rcv_arena.slot_size + st.snd_arena.slot_size)


cdef bint tcp_rcv_attach(StackState *st, Tcb *t) noexcept nogil:
    """A slot for the receive window before a byte is stored; False (and
    counted) when window memory is exhausted: the data is dropped, as if
    never received, and the peer retransmits."""
    if t.rcv.base != NULL:
        return True
    if window_attach(&t.rcv, &st.rcv_arena):
        return True
    st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
    return False


cdef void tcp_rcv_idle(StackState *st, Tcb *t) noexcept nogil:
    """Give the receive window's slot back if it is empty: everything
    consumed, nothing held out of order, no receive view alive."""
    if t.rcv.base != NULL and t.ooo_n == 0 and t.rcv_pin == <uint64_t>-1:
        if t.rcv.foreign:
            if t.rcv.head == t.rcv.tail:
                tcp_rcv_detach(st, t)
        else:
            window_release_if_empty(&t.rcv, &st.rcv_arena)


cdef void tcp_rcv_detach(StackState *st, Tcb *t) noexcept nogil:
    """Give the receive window's slot back: ours to the arena, or the shm
    peer's send window it reads in place to the peer (held while a view of
    it lives: mem/peer_windows.pxi)."""
    if t.rcv.base != NULL and t.rcv.foreign:
        peerwin_release(&st.peer_wins[t.rcv.foreign - 1], t.rcv.slot)
        t.rcv.base = NULL
        t.rcv.slot = NC_BUF_NONE
        t.rcv.foreign = 0
        t.rcv.hold = 0
    else:
        window_detach(&t.rcv, &st.rcv_arena)


cdef bint tcp_snd_move(StackState *st, Tcb *t) noexcept nogil:
    """The shm peer reads this send window's slot in place and has not
    consumed enough for the application to write on (tcp_snd_space is held
    to its edge): move the window to a fresh slot, with what is queued and
    in flight (and RACK's records beside it), and leave the old slot to the
    peer until it lets go (mem/arena.pxi). The peer, finding its next
    segments in another slot, copies what it still reads into a window of
    its own. So the application may queue a whole send window, as with a
    kernel socket, whether or not the peer reads. False when no slot is free."""
    cdef Window moved = t.snd
    cdef uint64_t n = t.snd.tail - t.snd.head
    if t.snd.base == NULL or t.snd.hold:
        return False
    if not arena_peer_holds(&st.snd_arena, t.snd.slot):
        return True                 # the peer let go meanwhile: no edge to move from
    moved.base = NULL
    if not window_attach(&moved, &st.snd_arena):
        return False
    if n:
        memcpy(window_at(&moved, t.snd.head), window_at(&t.snd, t.snd.head), n)
    if st.snd_arena.side != NULL:
        memcpy(arena_side(&st.snd_arena, moved.slot), arena_side(&st.snd_arena, t.snd.slot),
               st.snd_arena.side_size)
    arena_release(&st.snd_arena, t.snd.slot)
    t.snd = moved
    st.ctr[C_TCP_SND_MOVES] += 1
    return True


cdef uint32_t tcp_snd_space(const StackState *st, const Tcb *t) noexcept nogil:
    """Free bytes of the send window for the application. While the shm
    peer reads this send window in place (it holds the slot), no further
    than the right edge it last advertised: past it, the same ring positions
    hold bytes its application has not consumed yet (mem/peer_windows.pxi).
    Without the hold the whole free window is ours: a peer starts reading in
    place only with nothing unconsumed before the new data, which lies
    beyond what we had acknowledged when this space was handed out, so the
    writes made into it cannot reach what the peer will read."""
    cdef uint32_t space = window_space(&t.snd)
    cdef uint64_t edge
    if t.snd.base != NULL and arena_peer_holds(&st.snd_arena, t.snd.slot):
        edge = t.snd.head + t.snd_wnd
        if edge <= t.snd.tail:
            return 0
        if edge - t.snd.tail < space:
            space = <uint32_t>(edge - t.snd.tail)
    return space


cdef void tcp_snd_idle(StackState *st, Tcb *t) noexcept nogil:
    """Give the send window's slot back if everything written is
    acknowledged (snd.head == snd.tail: a retransmission never reads it)
    and no send view awaits its commit."""
    if t.snd.base != NULL:
        window_release_if_empty(&t.snd, &st.snd_arena)


cdef Tcb *tcb_alloc(StackState *st) noexcept nogil:
    """A zeroed control block with empty (unattached) windows, or NULL
    (counted). It holds no channel: one is leased to it for a poll when a
    frame comes (t.chan)."""
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
    window_init(&t.rcv, &st.rcv_arena)     # attached at the first byte (lazy)
    window_init(&t.snd, &st.snd_arena)
    t.rcv_pin = <uint64_t>-1
    t.fin_off = <uint64_t>-1
    # per-connection settings start from the stack's defaults
    t.cc = st.cfg.cc
    if st.cfg.nodelay:
        t.flags |= TF_NODELAY
    t.keep_cnt = st.cfg.keep_cnt
    t.keep_idle = st.cfg.keep_idle_ns
    t.keep_intvl = st.cfg.keep_intvl_ns
    if not tcp_windows_admit(st):
        st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
        st.tcb_free[st.tcb_nfree] = id
        st.tcb_nfree += 1
        return NULL
    st.n_conns += 1
    return t


cdef void tcb_free(StackState *st, Tcb *t) noexcept nogil:
    """Forget a connection entirely. Handles held by the application notice
    the generation change."""
    if t.state != CLOSED:
        tcp_set_state(st, t, CLOSED)
    tcb_free_quiet(st, t)


cdef void tcb_free_quiet(StackState *st, Tcb *t) noexcept nogil:
    """tcb_free without the trace of its last transition: for a connection
    that lives on as a TIME_WAIT record (tcp_time_wait_record)."""
    cdef uint32_t bufs[BURST]
    cdef uint32_t k
    t.state = CLOSED
    timer_cancel_all(st, t)
    flow_remove(st, t)
    while t.chan:                   # freed in its drain: what it had not read yet
        k = nc_ring_dequeue_burst(stack_chan_at(st, t.chan - 1), bufs, BURST)
        if k == 0:
            t.chan = 0              # the poll takes the channel back
            break
        st.port.ops.free_burst(st.port, bufs, k)
    tx_flush_refs(st)               # a super-frame queued may point into the send window
    tcp_rcv_detach(st, t)
    window_detach(&t.snd, &st.snd_arena)
    ip6_peer_release(st, t.raddr)
    t.raddr = 0
    t.gen += 1
    t.flags = 0
    st.tcb_free[st.tcb_nfree] = t.id
    st.tcb_nfree += 1
    st.n_conns -= 1
    st.ctr[C_TCP_CLOSED] += 1


cdef inline void tcp_schedule(StackState *st, Tcb *t) noexcept nogil:
    """Make sure tcp_output runs for t before this poll ends."""
    if not t.in_outq:
        t.in_outq = 1
        st.outq[st.noutq] = t.id
        st.noutq += 1


cdef void tcp_closed(StackState *st, Tcb *t, int err) noexcept nogil:
    """The connection is over. With a handle, the control block stays (CLOSED,
    off the flow table, readable data kept) until the handle closes; without
    one it is freed now."""
    if t.state == SYN_RECEIVED and t.listener >= 0:
        listener_half_open_done(st, t)
    if err and t.soerror == 0:
        t.soerror = err
    if t.flags & TF_HANDLE:
        tcp_set_state(st, t, CLOSED)
        timer_cancel_all(st, t)
        flow_remove(st, t)
        tx_flush_refs(st)           # a super-frame queued may point into the send window
        window_detach(&t.snd, &st.snd_arena)
    else:
        tcb_free(st, t)


cdef inline uint32_t tcp_pick_wscale(uint32_t rcvbuf) noexcept nogil:
    cdef uint32_t ws = 0
    while ws < 14 and (<uint64_t>65535 << ws) < rcvbuf:
        ws += 1
    return ws


cdef void tcp_open_tcb(StackState *st, Tcb *t, uint32_t laddr, uint32_t raddr, uint16_t lport,
                       uint16_t rport, uint32_t iss) noexcept nogil:
    """What every new connection starts from, active or passive: the 4-tuple,
    our ISS (nothing sent yet), our receive-window shift and MSS, the
    initial RTO and the per-connection timestamp offset."""
    t.laddr = laddr
    t.raddr = raddr
    t.lport = lport
    t.rport = rport
    t.iss = iss
    t.snd_una = iss
    t.snd_nxt = iss
    t.snd_max = iss
    t.rcv_wscale = <uint8_t>tcp_pick_wscale(t.rcv.size) if st.cfg.window_scaling else 0
    t.adv_mss = <uint16_t>(st.mtu - tcp_ip_hlen(raddr) - TCP_HLEN)
    ip6_peer_hold(st, raddr)
    t.rto = st.cfg.rto_init_ns
    t.ts_offset = <uint32_t>siphash_tuple(st.isn_key1, st.isn_key0, laddr, raddr, lport, rport, 1)


cdef void tcp_negotiate(StackState *st, Tcb *t, const TcpOptions *o) noexcept nogil:
    """Adopt the options of the peer's SYN (or SYN-ACK)."""
    cdef uint32_t peer_mss = o.mss if o.present & OPT_MSS else 536   # RFC 9293 3.7.1
    cdef uint32_t mss
    if st.cfg.window_scaling and o.present & OPT_WSCALE:
        t.flags |= TF_WS_OK
        t.snd_wscale = o.wscale if o.wscale <= 14 else 14       # RFC 7323 2.3
    else:
        t.flags &= ~TF_WS_OK
        t.snd_wscale = 0
        t.rcv_wscale = 0
    if st.cfg.sack and o.present & OPT_SACK_PERM:
        t.flags |= TF_SACK_OK
    else:
        t.flags &= ~TF_SACK_OK
    if st.cfg.timestamps and o.present & OPT_TIMESTAMP:
        t.flags |= TF_TS_OK
        t.ts_recent = o.ts_val
        t.ts_recent_at = st.now
    else:
        t.flags &= ~TF_TS_OK
    # RFC 9293 3.7.1 / RFC 6691: the MSS counts no options; clamp to our MTU,
    # then leave room for the timestamp option every segment carries.
    mss = st.mtu - tcp_ip_hlen(t.raddr) - TCP_HLEN
    if peer_mss < mss:
        mss = peer_mss
    if t.flags & TF_TS_OK:
        mss -= 12
    if mss < 64:
        mss = 64
    t.mss = <uint16_t>mss
    t.mss_full = t.mss


cdef inline void tcp_init_cc(StackState *st, Tcb *t) noexcept nogil:
    # RFC 6928 initial window: min(10 MSS, max(2 MSS, 14600))
    cdef uint32_t iw = 14600 if 14600 > 2 * t.mss else 2 * t.mss
    if iw > 10 * t.mss:
        iw = 10 * t.mss
    t.cwnd = iw
    t.ssthresh = INITIAL_SSTHRESH
    t.recover = t.iss
    t.high_rxt = t.iss
    t.quickack = QUICKACK_SEGMENTS
    t.last_rcv = st.now
    rack_init(st, t)
    ecn_init(t)
    hystart_init(st, t)
