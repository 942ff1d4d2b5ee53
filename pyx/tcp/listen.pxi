# Listening (RFC 9293 3.10.7.2): opening and closing a listener, the
# segments for a listening port that match no connection, the children it
# creates and its accept queue. SYN cookies are in syncookie.pxi.

from libc.errno cimport EADDRINUSE, EMFILE, ENOMEM


cdef int32_t listener_open(StackState *st, uint16_t port, uint32_t backlog) noexcept nogil:
    """Listen on TCP `port` with an accept queue of `backlog`: the C side of
    Stack.listen. The listener id, or -EADDRINUSE (the port has one),
    -EMFILE (no free slot), -ENOMEM."""
    cdef int32_t lid = -1
    cdef uint32_t i, gen
    cdef Listener *l
    if st.listen_by_port[port] >= 0:
        return -EADDRINUSE
    # a slot never used first, then one a closed listener left
    for i in range(st.max_listeners):
        if not st.listeners[i].active and st.listeners[i].aq == NULL:
            lid = i
            break
    if lid < 0:
        for i in range(st.max_listeners):
            if not st.listeners[i].active:
                lid = i
                break
    if lid < 0:
        return -EMFILE
    l = &st.listeners[lid]
    free(l.aq)
    free(l.chan)
    gen = l.gen                         # a reused slot keeps counting generations
    memset(l, 0, sizeof(Listener))
    l.gen = gen
    l.chan = <nc_ring *>malloc(nc_ring_memsize(st.cfg.listen_chan_size))
    l.aq = <uint32_t *>malloc(2 * backlog * sizeof(uint32_t))
    if l.chan == NULL or l.aq == NULL:
        return -ENOMEM
    nc_ring_init(l.chan, st.cfg.listen_chan_size)
    l.aq_cap = backlog
    l.backlog = backlog
    l.port = port
    l.active = True
    st.listen_by_port[port] = lid
    return lid


cdef void listener_close(StackState *st, int32_t lid) noexcept nogil:
    """Stop listening: the C side of Listener.close. Connections nobody
    accepted are reset; a half-open child that completes later finds the
    listener gone (its generation no longer matches, even once the slot
    serves another port) and is refused (tcp_established). The slot keeps
    its queues for the next listener_open."""
    cdef Listener *l = &st.listeners[lid]
    cdef Tcb *t
    while True:
        t = listener_pop(st, l)
        if t == NULL:
            break
        tcp_send_rst(st, t)
        tcb_free(st, t)
    l.active = False
    l.gen += 1
    st.listen_by_port[l.port] = -1


cdef inline bint listener_owns(StackState *st, Tcb *t) noexcept nogil:
    """t is a child of the listener in slot t.listener as it is now (not of a
    closed listener whose slot another port has since taken)."""
    return (t.listener >= 0 and <uint32_t>t.listener < st.max_listeners and
            st.listeners[t.listener].active and
            st.listeners[t.listener].gen == t.listener_gen)


cdef Tcb *listener_pop(StackState *st, Listener *l) noexcept nogil:
    """The oldest connection in l's accept queue that still exists (entries
    are id + generation: one reset before accept() is skipped) and is l's
    own child (listener id + generation), or NULL."""
    cdef uint32_t id, gen
    cdef int32_t lid = <int32_t>(l - st.listeners)
    cdef Tcb *t
    while l.aq_len:
        id = l.aq[2 * l.aq_head]
        gen = l.aq[2 * l.aq_head + 1]
        l.aq_head = (l.aq_head + 1) % l.aq_cap
        l.aq_len -= 1
        t = &st.tcbs[id]
        if (t.gen == gen and t.state != CLOSED and t.listener == lid and
                t.listener_gen == l.gen):
            return t
    return NULL


cdef void listener_half_open_done(StackState *st, Tcb *t) noexcept nogil:
    """A passive child leaves SYN_RECEIVED (established or closed): one fewer
    half-open connection counts against the backlog (of its own listener:
    not of one that took a closed listener's slot since)."""
    cdef Listener *l
    if not listener_owns(st, t):
        return
    l = &st.listeners[t.listener]
    if l.half_open:
        l.half_open -= 1


cdef bint listener_enqueue(StackState *st, Tcb *t) noexcept nogil:
    """A passive child completed its handshake: off the half-open count and
    onto the accept queue (id + generation). False, counted as an overflow,
    if the listener closed (its generation moved on, even if the slot serves
    a new listener now) or its queue is full: the caller refuses it."""
    cdef Listener *l = &st.listeners[t.listener]
    cdef uint32_t slot
    if not listener_owns(st, t):
        st.ctr[C_TCP_LISTEN_OVERFLOW] += 1     # (not on the slot: its listener is gone)
        return False
    listener_half_open_done(st, t)
    if l.aq_len >= l.aq_cap:
        l.overflows += 1
        st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
        return False
    slot = (l.aq_head + l.aq_len) % l.aq_cap
    l.aq[2 * slot] = t.id
    l.aq[2 * slot + 1] = t.gen
    l.aq_len += 1
    return True


cdef void tcp_passive_init(StackState *st, Tcb *t, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, uint16_t sport, uint16_t dport, uint32_t irs,
                           uint32_t iss, const TcpOptions *opts) noexcept nogil:
    """Fill a control block for a connection a listener takes (from a SYN, or
    from a SYN cookie's ACK)."""
    tcp_open_tcb(st, t, dst, src, dport, sport, iss)
    memcpy(t.rmac, src_mac, 6)
    t.rmac_gen = st.arp_gen
    t.flags |= TF_PASSIVE
    t.listener = lid
    t.listener_gen = st.listeners[lid].gen
    t.irs = irs
    t.rcv_nxt = irs + 1
    t.rcv_adv = t.rcv_nxt
    tcp_negotiate(st, t, opts)
    tcp_init_cc(st, t)
    st.ctr[C_TCP_PASSIVE_OPENS] += 1


cdef void tcp_listen_input(StackState *st, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, const TcpHdr *th,
                           bint iss_given=False, uint32_t given_iss=0) noexcept nogil:
    """RFC 9293 3.10.7.2: a segment for a listening port with no connection.
    iss_given: use given_iss as the ISS (a TIME_WAIT takeover) instead of
    the RFC 6528 generator."""
    cdef Listener *l = &st.listeners[lid]
    cdef Tcb *t
    cdef Ipv4Hdr ip
    if th.flags & TCP_RST:
        return
    if th.flags & TCP_ACK and not (th.flags & TCP_SYN):
        # the ACK of a SYN cookie? (only worth checking if we sent some lately)
        if l.cookies_until > st.now:
            t = syncookie_accept(st, lid, src, dst, src_mac, th)
            if t != NULL:
                if th.payload_len or th.flags & TCP_FIN:
                    tcp_input(st, t, th)
                tcp_schedule(st, t)
                return
    if th.flags & TCP_ACK:
        ip.src = src
        ip.dst = dst
        tcp_reply_rst(st, &ip, th, src_mac)
        return
    if not (th.flags & TCP_SYN):
        return          # RFC 9293 3.10.7.2 "fourth": neither SYN nor ACK: drop it
    if l.aq_len >= l.aq_cap:
        # nobody is accepting: a new connection would only wait (as Linux does)
        l.overflows += 1
        st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
        return
    if l.half_open >= l.backlog:
        if st.cfg.syncookies:
            syncookie_reply(st, src, dst, src_mac, th)
            l.cookies_until = st.now + 2 * COOKIE_PERIOD_NS
        else:
            l.overflows += 1
            st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
        return
    if st.tcb_nfree and not tcp_windows_admit(st):
        # window memory exhausted: refuse at once (RST) rather than let the
        # peer's connect time out; counted in tcp_window_arena_full
        st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
        ip.src = src
        ip.dst = dst
        tcp_reply_rst(st, &ip, th, src_mac)
        return
    t = tcb_alloc(st)
    if t == NULL:
        return
    tcp_passive_init(st, t, lid, src, dst, src_mac, th.sport, th.dport, th.seq,
                     given_iss if iss_given else tcp_isn(st, dst, src, th.dport, th.sport, st.now),
                     &th.opts)
    t.snd_wnd = th.window               # SYN windows are not scaled
    t.max_snd_wnd = t.snd_wnd
    t.snd_wl1 = th.seq
    t.snd_wl2 = t.iss
    ecn_syn_received(st, t, th)
    tcp_syn_data_queue(st, t, th)       # text on the SYN waits for the handshake
    tcp_set_state(st, t, SYN_RECEIVED)
    l.half_open += 1
    flow_insert(st, t)
    tcp_schedule(st, t)


cdef bint tcp_time_wait_takeover(StackState *st, Tcb *t, const TcpHdr *th, uint32_t src,
                                 uint32_t dst, const uint8_t *src_mac) noexcept nogil:
    """The TIME_WAIT reuse policy, for the consumer to ask about a SYN that
    finds its 4-tuple in TIME_WAIT in a control block (RFC 9293 3.10.7.4,
    RFC 6191; a record decides the same in tcp_time_wait_input): a new
    incarnation that tcp_time_wait_reuse_ok accepts, with a listener on the
    port and no handle left on the old connection, takes the 4-tuple over.
    True if it did: t is freed and the listener has taken the SYN."""
    cdef int32_t lid
    cdef uint32_t new_iss
    if not (t.state == TIME_WAIT and th.flags & TCP_SYN and not (th.flags & TCP_ACK) and
            not (th.flags & TCP_RST) and not (t.flags & TF_HANDLE) and
            tcp_time_wait_reuse_ok(st, (t.flags & TF_TS_OK) != 0, t.ts_recent, t.rcv_nxt, th)):
        return False
    lid = st.listen_by_port[t.lport]
    if lid < 0 or not st.listeners[lid].active:
        return False
    # RFC 1122 4.2.2.13 / RFC 9293 3.6.1: the new incarnation's ISS must lie
    # above every sequence number the old one used (Linux: old SND.NXT +
    # 65535 + 2, beyond its window too)
    new_iss = t.snd_max + 65535 + 2
    tcb_free(st, t)
    tcp_listen_input(st, lid, src, dst, src_mac, th, True, new_iss)
    return True
