# Data arriving: in-order bytes into the receive window, out-of-order
# ranges kept (bounded, OOO_MAX) and merged, D-SACK and SACK blocks noted for
# the next ACK.

cdef bint tcp_ooo_add(Tcb *t, uint64_t s, uint64_t e) noexcept nogil:
    """Record [s, e) as held beyond the in-order data. False (nothing
    changed) when it would need more than OOO_MAX separate ranges."""
    cdef uint64_t ns[OOO_MAX + 1]
    cdef uint64_t ne[OOO_MAX + 1]
    cdef uint32_t n = range_merge(t.ooo_start, t.ooo_end, t.ooo_n, s, e, ns, ne)
    if n > OOO_MAX:
        return False
    memcpy(t.ooo_start, ns, n * sizeof(uint64_t))
    memcpy(t.ooo_end, ne, n * sizeof(uint64_t))
    t.ooo_n = <uint8_t>n
    return True


cdef inline bint tcp_ooo_covers(const Tcb *t, uint64_t s, uint64_t e) noexcept nogil:
    cdef uint32_t i
    for i in range(t.ooo_n):
        if t.ooo_start[i] <= s and e <= t.ooo_end[i]:
            return True
    return False


cdef bint tcp_rcv_privatize(StackState *st, Tcb *t) noexcept nogil:
    """A receive window reading the shm peer's send window in place moves to
    a slot of our own: the whole ring copied, so in-order and out-of-order
    bytes keep their places. False (counted) when no slot is free."""
    cdef Window own = t.rcv
    own.base = NULL
    if not window_attach(&own, &st.rcv_arena):
        st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
        return False
    memcpy(own.base, t.rcv.base, t.rcv.size)
    peerwin_release(&st.peer_wins[t.rcv.foreign - 1], t.rcv.slot)
    t.rcv = own
    return True


cdef bint tcp_rcv_place(StackState *st, Tcb *t, const TcpHdr *th, uint64_t off,
                        const uint8_t *data, uint32_t n) noexcept nogil:
    """Put n bytes of the segment's text at stream offset off of the receive
    window. False: dropped, not ACKed (no window memory, or a reference to a
    slot the peer has recycled since). The shm peer's payload by reference
    (th.payload_ref: data points into its send window, mapped here) is
    already where it belongs when the receive window reads that send window
    (mem/peer_windows.pxi); an unattached window starts doing so."""
    cdef PeerWindows *pw
    cdef uint8_t *dst
    cdef int rc
    if t.rcv.base == NULL and th.payload_ref:
        pw = &st.peer_wins[st.peer_win_cur]
        rc = peerwin_adopt(pw, &t.rcv, data, off, th.ref_gen)
        if rc > 0:
            t.rcv.foreign = st.peer_win_cur + 1
            st.ctr[C_TCP_RCV_IN_PLACE_BYTES] += n
            return True
        if rc < 0:
            st.ctr[C_TCP_REF_STALE] += 1
            return False
    if not tcp_rcv_attach(st, t):
        return False                    # no window memory: dropped (counted), not ACKed
    dst = window_at(&t.rcv, off)
    if dst == data:
        st.ctr[C_TCP_RCV_IN_PLACE_BYTES] += n
        return True
    if t.rcv.foreign:
        if not th.payload_ref and memcmp(dst, data, n) == 0:
            # a short segment copied out of the send window we read: the
            # same bytes are in place (its payload is under
            # TCP_REF_MIN_PAYLOAD, so comparing costs little)
            st.ctr[C_TCP_RCV_IN_PLACE_BYTES] += n
            return True
        # the peer's bytes are elsewhere (its send window moved to another
        # slot: tcp_snd_move): what we read in place so far moves to a
        # window of our own first
        if not tcp_rcv_privatize(st, t):
            return False
        dst = window_at(&t.rcv, off)
    memcpy(dst, data, n)
    if th.payload_ref:
        if not peerwin_gen_still(&st.peer_wins[st.peer_win_cur], data, th.ref_gen):
            st.ctr[C_TCP_REF_STALE] += 1
            return False
        st.ctr[C_TCP_RCV_REF_COPIED_BYTES] += n
    return True


cdef void tcp_receive_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """RFC 9293 3.10.7.4 seventh step: place the text in the receive window,
    in order or out of order, and decide how soon to ACK."""
    cdef const uint8_t *data = th.payload
    cdef uint32_t n = th.payload_len
    cdef uint32_t seq = th.seq + (1 if th.flags & TCP_SYN else 0)
    cdef int32_t delta = <int32_t>(seq - t.rcv_nxt)
    cdef uint64_t off, base, right, fin_at = 0
    cdef bint trimmed = False, filled_hole = False, duplicate = False
    cdef uint32_t skip
    if delta < 0:
        skip = <uint32_t>(-delta)
        if n:
            # some or all of it arrived before: report it (RFC 2883 D-SACK)
            tcp_note_dsack(t, seq, seq + (skip if skip < n else n))
            duplicate = True
        if skip >= n:
            n = 0
        else:
            data += skip
            n -= skip
        delta = 0
    off = t.rcv.tail + <uint64_t>delta
    if th.flags & TCP_FIN:
        fin_at = off + n
    base = t.rcv.head if t.rcv.head < t.rcv_pin else t.rcv_pin
    right = base + t.rcv.size
    if n and off + n > right:
        trimmed = True
        n = <uint32_t>(right - off) if right > off else 0
    if n and not tcp_rcv_place(st, t, th, off, data, n):
        return
    if n:
        if delta == 0:
            t.rcv.tail += n
            while t.ooo_n and t.ooo_start[0] <= t.rcv.tail:
                if t.ooo_end[0] > t.rcv.tail:
                    t.rcv.tail = t.ooo_end[0]
                t.ooo_n -= 1
                memmove(&t.ooo_start[0], &t.ooo_start[1], t.ooo_n * sizeof(uint64_t))
                memmove(&t.ooo_end[0], &t.ooo_end[1], t.ooo_n * sizeof(uint64_t))
                filled_hole = True
        else:
            if tcp_ooo_covers(t, off, off + n):
                tcp_note_dsack(t, seq, seq + n)     # held already: a duplicate
                duplicate = True
            elif not tcp_ooo_add(t, off, off + n):
                st.ctr[C_TCP_OOO_DROPPED] += 1
                t.flags |= TF_ACK_NOW
                return
            else:
                tcp_note_ooo_block(t, off, off + n)
                st.ctr[C_TCP_OOO_SEGMENTS] += 1
        st.ctr[C_TCP_DATA_IN_BYTES] += n
        t.rcv_nxt = t.irs + 1 + <uint32_t>t.rcv.tail
    if th.flags & TCP_FIN and not trimmed:
        t.fin_off = fin_at
    if t.flags & TF_APP_CLOSED:
        t.rcv.head = t.rcv.tail         # nobody will read: consume at once
        tcp_rcv_idle(st, t)
    # ACK policy (RFC 9293 3.8.6.3, RFC 5681 4.2): at once for out-of-order
    # data, a filled hole, a duplicate, or while the peer is in slow start
    # (quick-ACK); otherwise every second full segment, or after the
    # delayed-ACK timer. Segments are counted in MSS units: a GRO super-frame
    # (ports/afpacket_offload.pxi) of many segments is ACKed at once, and
    # once, as Linux ACKs a GRO aggregate.
    if delta != 0 or filled_hole or trimmed or duplicate or n == 0:
        t.flags |= TF_ACK_NOW
    elif n:
        t.segs_unacked += 1 if n <= t.adv_mss else 2
        if t.quickack:
            t.quickack -= 1
            t.flags |= TF_ACK_NOW
        elif t.segs_unacked >= 2 or st.cfg.delack_ns == 0:
            t.flags |= TF_ACK_NOW
        elif not (t.flags & TF_DELACK):
            t.flags |= TF_DELACK
            t.t_delack = st.now + st.cfg.delack_ns


cdef void tcp_syn_data_queue(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """Text on a SYN (RFC 9293 3.10.7.2: "queued for processing later after
    the ESTABLISHED state has been reached"): held as out-of-order data at
    the start of the stream, so the SYN-ACK does not acknowledge it; the
    handshake's ACK delivers it (tcp_syn_data_deliver). What does not fit
    the window is dropped (the peer sends it again)."""
    cdef uint32_t n = th.payload_len
    if n == 0 or t.rcv.tail != 0:
        return
    if n > t.rcv.size:
        n = t.rcv.size
    if not tcp_rcv_attach(st, t) or not tcp_ooo_add(t, 0, n):
        return
    memcpy(window_at(&t.rcv, 0), th.payload, n)
    st.ctr[C_TCP_SYN_DATA_QUEUED] += 1


cdef void tcp_syn_data_deliver(StackState *st, Tcb *t) noexcept nogil:
    """The handshake completed: what the SYN carried becomes in-order data
    (and the next ACK acknowledges it)."""
    if not (t.ooo_n and t.ooo_start[0] == t.rcv.tail and t.rcv.tail == 0):
        return
    t.rcv.tail = t.ooo_end[0]
    t.ooo_n -= 1
    memmove(&t.ooo_start[0], &t.ooo_start[1], t.ooo_n * sizeof(uint64_t))
    memmove(&t.ooo_end[0], &t.ooo_end[1], t.ooo_n * sizeof(uint64_t))
    t.rcv_nxt = t.irs + 1 + <uint32_t>t.rcv.tail
    st.ctr[C_TCP_DATA_IN_BYTES] += t.rcv.tail
    t.flags |= TF_ACK_NOW
