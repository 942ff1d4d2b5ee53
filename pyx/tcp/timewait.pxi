# TIME_WAIT records: a connection that reaches TIME_WAIT with no handle left
# gives up its control block and windows for a 56-byte record in a
# separate bounded table (max_time_wait), found by the classifier by 4-tuple
# like a flow. A record answers what RFC 9293 asks of TIME_WAIT (a
# retransmitted FIN is ACKed again and restarts 2 MSL; a RST at RCV.NXT ends
# it; other segments get an ACK or are dropped as for a control block), lets
# a new SYN take its 4-tuple over (RFC 6191 with timestamps, RFC 1122
# 4.2.2.13 without), and ends after 2 MSL. The records sit on one list in
# order of expiry: every record lasts 2 MSL from its last event, so a new or
# restarted one goes to the tail, expiry pops the head, and a full table
# recycles the head (the oldest) — a limit that never refuses a connection.

cdef int tw_init(StackState *st, uint32_t max_records) noexcept nogil:
    """Allocate the table for max_records (>= 1): 0, or -1 when out of memory.
    Zeroed memory is a valid empty table, so nothing is touched up front."""
    cdef uint32_t size = 64
    while size < 2 * max_records:
        size <<= 1
    st.tw = <TwRecord *>calloc(max_records, sizeof(TwRecord))
    st.tw_index = <TwSlot *>calloc(size, sizeof(TwSlot))
    if st.tw == NULL or st.tw_index == NULL:
        return -1
    st.tw_mask = size - 1
    st.tw_max = max_records
    st.tw_n = 0
    st.tw_fresh = 0
    st.tw_free = NC_BUF_NONE
    st.tw_head = NC_BUF_NONE
    st.tw_tail = NC_BUF_NONE
    return 0


cdef void tw_destroy(StackState *st) noexcept nogil:
    free(st.tw)
    free(st.tw_index)
    st.tw = NULL
    st.tw_index = NULL


cdef inline uint16_t tw_laddr_index(StackState *st, uint32_t laddr, uint32_t raddr) noexcept nogil:
    """What a record keeps of our address: its index (IPv6: laddr already is)."""
    return <uint16_t>(laddr if addr_is_v6(raddr) else ip4_addr_index(st, laddr))


cdef inline uint32_t tw_lookup(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t rport,
                               uint16_t lport) noexcept nogil:
    """The record of this 4-tuple, or NC_BUF_NONE."""
    cdef uint32_t h, i
    cdef TwSlot *s
    cdef TwRecord *r
    if st.tw_n == 0:
        return NC_BUF_NONE
    h = flow_hash(st, raddr, rport, lport)
    i = h & st.tw_mask
    while True:
        s = &st.tw_index[i]
        if s.hash == 0:
            return NC_BUF_NONE
        if s.hash == h:
            r = &st.tw[s.id]
            if (r.raddr == raddr and r.rport == rport and r.lport == lport and
                    r.laddr6 == tw_laddr_index(st, laddr, raddr)):
                return s.id
        i = (i + 1) & st.tw_mask


cdef void tw__unlink(StackState *st, uint32_t id) noexcept nogil:
    cdef TwRecord *r = &st.tw[id]
    if r.prev != NC_BUF_NONE:
        st.tw[r.prev].next = r.next
    else:
        st.tw_head = r.next
    if r.next != NC_BUF_NONE:
        st.tw[r.next].prev = r.prev
    else:
        st.tw_tail = r.prev


cdef void tw__link_sorted(StackState *st, uint32_t id) noexcept nogil:
    """Onto the age list by expiry. A record made now, or restarted now,
    expires last and goes straight to the tail; only one that keeps an
    earlier deadline (a control block let go of in TIME_WAIT) walks back."""
    cdef TwRecord *r = &st.tw[id]
    cdef uint32_t after = st.tw_tail
    while after != NC_BUF_NONE and st.tw[after].expires > r.expires:
        after = st.tw[after].prev
    r.prev = after
    if after == NC_BUF_NONE:
        r.next = st.tw_head
        st.tw_head = id
    else:
        r.next = st.tw[after].next
        st.tw[after].next = id
    if r.next != NC_BUF_NONE:
        st.tw[r.next].prev = id
    else:
        st.tw_tail = id


cdef void tw__remove(StackState *st, uint32_t id) noexcept nogil:
    """Forget record id: off the index (backward-shift deletion, as the flow
    table), off the age list, onto the free list."""
    cdef TwRecord *r = &st.tw[id]
    cdef uint32_t i = r.hash & st.tw_mask
    cdef uint32_t j, ideal
    while st.tw_index[i].id != id or st.tw_index[i].hash == 0:
        i = (i + 1) & st.tw_mask
    j = i
    while True:
        j = (j + 1) & st.tw_mask
        if st.tw_index[j].hash == 0:
            break
        ideal = st.tw_index[j].hash & st.tw_mask
        if ((j - ideal) & st.tw_mask) >= ((j - i) & st.tw_mask):
            st.tw_index[i] = st.tw_index[j]
            i = j
    st.tw_index[i].hash = 0
    st.tw_index[i].id = 0
    tw__unlink(st, id)
    ip6_peer_release(st, r.raddr)
    r.hash = 0
    r.next = st.tw_free
    st.tw_free = id
    st.tw_n -= 1


cdef void tw__end(StackState *st, uint32_t id) noexcept nogil:
    """The connection's TIME_WAIT is over (traced as TIME_WAIT -> CLOSED)."""
    tcp_trace(st, st.tw[id].trace_id, TIME_WAIT, CLOSED)
    tw__remove(st, id)


cdef uint32_t tw__alloc(StackState *st) noexcept nogil:
    """A free record; when the table is full, the oldest is recycled."""
    cdef uint32_t id
    if st.tw_free == NC_BUF_NONE:
        if st.tw_fresh < st.tw_max:
            id = st.tw_fresh
            st.tw_fresh += 1
            return id
        st.ctr[C_TCP_TIME_WAIT_RECYCLED] += 1
        tw__end(st, st.tw_head)
    id = st.tw_free
    st.tw_free = st.tw[id].next
    return id


cdef void tw_claim(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t rport,
                   uint16_t lport) noexcept nogil:
    """A new connection of ours takes this 4-tuple (flow_insert): a record
    of an earlier incarnation there is over (counted as reused)."""
    cdef uint32_t id = tw_lookup(st, laddr, raddr, rport, lport)
    if id != NC_BUF_NONE:
        st.ctr[C_TCP_TIME_WAIT_REUSED] += 1
        tw__end(st, id)


cdef void tcp_time_wait_record(StackState *st, Tcb *t) noexcept nogil:
    """t is in TIME_WAIT and nobody holds it: keep what TIME_WAIT needs in a
    record, for what is left of 2 MSL, and free the control block."""
    cdef uint32_t id, h, i
    cdef TwRecord *r
    tw_claim(st, t.laddr, t.raddr, t.rport, t.lport)    # (an older record of the 4-tuple)
    id = tw__alloc(st)
    r = &st.tw[id]
    h = flow_hash(st, t.raddr, t.rport, t.lport)
    r.hash = h
    r.raddr = t.raddr
    r.laddr6 = tw_laddr_index(st, t.laddr, t.raddr)
    ip6_peer_hold(st, t.raddr)          # before the control block lets go of it
    r.rport = t.rport
    r.lport = t.lport
    r.snd_nxt = t.snd_max
    r.rcv_nxt = t.rcv_nxt
    # the window its ACKs offered (capped, and rounded to the scale)
    r.rcv_wnd = (tcp_window_to_advertise(t) >> t.rcv_wscale) << t.rcv_wscale
    r.rcv_wscale = t.rcv_wscale
    r.flags = TW_TS if t.flags & TF_TS_OK else 0
    r.ts_recent = t.ts_recent
    r.ts_offset = t.ts_offset
    r.trace_id = t.id
    r.expires = t.t_2msl if t.t_2msl else st.now + 2 * st.cfg.msl_ns
    i = h & st.tw_mask
    while st.tw_index[i].hash != 0:
        i = (i + 1) & st.tw_mask
    st.tw_index[i].hash = h
    st.tw_index[i].id = id
    tw__link_sorted(st, id)
    st.tw_n += 1
    st.ctr[C_TCP_TIME_WAIT_CREATED] += 1
    tcb_free_quiet(st, t)


cdef void tw__ack(StackState *st, TwRecord *r, const uint8_t *dst_mac) noexcept nogil:
    """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with timestamps when the
    connection had them, as the control block would have sent it."""
    cdef TcpOptions o
    cdef uint32_t wfield = r.rcv_wnd >> r.rcv_wscale
    o.present = 0
    o.sack_count = 0
    if r.flags & TW_TS:
        o.present = OPT_TIMESTAMP
        o.ts_val = <uint32_t>(st.now // 1000000) + r.ts_offset
        o.ts_ecr = r.ts_recent
    cdef uint32_t laddr = r.laddr6 if addr_is_v6(r.raddr) else (
        st.v4.addr[r.laddr6] if r.laddr6 < st.v4.n_addr else st.ip)
    if tcp_reply_stateless(st, laddr, r.raddr, dst_mac, r.lport, r.rport, r.snd_nxt, r.rcv_nxt,
                           TCP_ACK, <uint16_t>(wfield if wfield < 65535 else 65535), &o):
        st.ctr[C_TCP_SEGS_OUT] += 1


cdef void tw__challenge_ack(StackState *st, TwRecord *r, const uint8_t *dst_mac) noexcept nogil:
    if rate_allow(&st.challenge_rate, st.cfg.challenge_ack_limit, st.now):
        st.ctr[C_TCP_CHALLENGE_ACKS] += 1
        tw__ack(st, r, dst_mac)


cdef inline bint tw__seq_acceptable(const TwRecord *r, uint32_t seq, uint32_t seg_len) noexcept nogil:
    """RFC 9293 3.10.7.4 first step against the window last offered."""
    cdef uint32_t wnd = r.rcv_wnd
    if wnd == 0:
        return seq == r.rcv_nxt
    if seg_len == 0:
        return seq_leq(r.rcv_nxt, seq) and seq_lt(seq, r.rcv_nxt + wnd)
    return ((seq_leq(r.rcv_nxt, seq) and seq_lt(seq, r.rcv_nxt + wnd)) or
            (seq_leq(r.rcv_nxt, seq + seg_len - 1) and seq_lt(seq + seg_len - 1, r.rcv_nxt + wnd)))


cdef bint tcp_time_wait_reuse_ok(const StackState *st, bint old_ts, uint32_t ts_recent,
                                 uint32_t rcv_nxt, const TcpHdr *th) noexcept nogil:
    """May this SYN open a new incarnation of a 4-tuple in TIME_WAIT?
    RFC 6191 2: with timestamps on both incarnations, a TSval above
    TS.Recent (or equal to it, with the sequence number above RCV.NXT);
    when the old one had none and the new one has them, yes; without
    timestamps on the new one, its sequence number must lie above RCV.NXT
    (RFC 1122 4.2.2.13)."""
    cdef bint new_ts = st.cfg.timestamps and (th.opts.present & OPT_TIMESTAMP) != 0
    cdef bint above = seq_gt(th.seq, rcv_nxt)
    if old_ts and new_ts:
        return seq_gt(th.opts.ts_val, ts_recent) or (th.opts.ts_val == ts_recent and above)
    if new_ts:
        return True
    return above


cdef void tcp_time_wait_input(StackState *st, uint32_t id, uint32_t src, uint32_t dst,
                              const uint8_t *src_mac, const TcpHdr *th) noexcept nogil:
    """One segment for a 4-tuple in TIME_WAIT (RFC 9293 3.10.7.4 for that
    state, in the order tcp_process takes a control block through it)."""
    cdef TwRecord *r = &st.tw[id]
    cdef uint32_t seg_len = th.payload_len + (1 if th.flags & TCP_SYN else 0) + \
        (1 if th.flags & TCP_FIN else 0)
    cdef int32_t lid
    cdef uint32_t new_iss
    st.ctr[C_TCP_SEGS_IN] += 1
    # a SYN may open a new incarnation (RFC 6191): the listener takes it
    # with an ISS above everything the old one used (and its window, as Linux)
    if (th.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN:
        lid = st.listen_by_port[r.lport]
        if (lid >= 0 and st.listeners[lid].active and
                tcp_time_wait_reuse_ok(st, (r.flags & TW_TS) != 0, r.ts_recent, r.rcv_nxt, th)):
            new_iss = r.snd_nxt + 65535 + 2
            st.ctr[C_TCP_TIME_WAIT_REUSED] += 1
            tw__end(st, id)
            tcp_listen_input(st, lid, src, dst, src_mac, th, True, new_iss)
            return
    # PAWS (RFC 7323 5.3)
    if (r.flags & TW_TS and th.opts.present & OPT_TIMESTAMP and not (th.flags & TCP_RST) and
            seq_lt(th.opts.ts_val, r.ts_recent)):
        st.ctr[C_TCP_PAWS_DROPPED] += 1
        tw__ack(st, r, src_mac)
        return
    # a retransmitted FIN: ACK it again (echoing its TSval: it covers
    # Last.ACK.sent, RFC 7323 4.3) and restart 2 MSL
    if th.flags & TCP_FIN and not (th.flags & TCP_RST) and th.seq + seg_len == r.rcv_nxt:
        if r.flags & TW_TS and th.opts.present & OPT_TIMESTAMP:
            r.ts_recent = th.opts.ts_val
        tw__ack(st, r, src_mac)
        r.expires = st.now + 2 * st.cfg.msl_ns
        tw__unlink(st, id)
        tw__link_sorted(st, id)
        return
    if not tw__seq_acceptable(r, th.seq, seg_len):
        st.ctr[C_TCP_BAD_SEQ] += 1
        if not (th.flags & TCP_RST):
            tw__ack(st, r, src_mac)
        return
    if (r.flags & TW_TS and th.opts.present & OPT_TIMESTAMP and seq_leq(th.seq, r.rcv_nxt) and
            seq_geq(th.opts.ts_val, r.ts_recent)):
        r.ts_recent = th.opts.ts_val
    if th.flags & TCP_RST:
        # RFC 5961 3.2: only an exact hit; it ends TIME_WAIT (as Linux's
        # default, tcp_rfc1337=0)
        if th.seq != r.rcv_nxt:
            tw__challenge_ack(st, r, src_mac)
            return
        st.ctr[C_TCP_RST_RCVD] += 1
        st.ctr[C_TCP_TIME_WAIT_RESET] += 1
        tw__end(st, id)
        return
    if th.flags & TCP_SYN:
        tw__challenge_ack(st, r, src_mac)       # RFC 5961 4.2
        return
    if th.flags & TCP_ACK and seq_gt(th.ack, r.snd_nxt):
        st.ctr[C_TCP_BAD_ACK] += 1
        tw__challenge_ack(st, r, src_mac)       # RFC 5961 5.2
    # anything else (an ACK, data) is dropped: TIME_WAIT ignores text


cdef void tw_expire(StackState *st, uint64_t now) noexcept nogil:
    """End every record whose 2 MSL are over (they are in expiry order)."""
    while st.tw_head != NC_BUF_NONE and st.tw[st.tw_head].expires <= now:
        st.ctr[C_TCP_TIME_WAIT_EXPIRED] += 1
        st.progress += 1
        tw__end(st, st.tw_head)


cdef inline uint64_t tw_next_deadline(const StackState *st) noexcept nogil:
    """When the oldest record expires (0: no record)."""
    if st.tw_head == NC_BUF_NONE:
        return 0
    return st.tw[st.tw_head].expires
