# TCP input ("process" in smoltcp's terms): one segment arrives for one
# connection, RFC 9293 section 3.10.7 step by step. The time is st.now;
# nothing here reads a clock. Output is only scheduled here (flags and
# timers); tcp_output sends, once per connection per poll.

cdef int _ECONNRESET = _errno.ECONNRESET
cdef int _ECONNREFUSED = _errno.ECONNREFUSED
cdef int _ETIMEDOUT = _errno.ETIMEDOUT
cdef int _EPIPE = _errno.EPIPE

cdef enum:
    QUICKACK_SEGMENTS = 16      # ACK at once while the peer is likely in slow start

cdef uint64_t PAWS_IDLE_NS = 24 * 86400 * 1000000000ULL   # RFC 7323 5.5: TS.Recent older than 24 days is invalid


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
    cdef Listener *l
    if t.state == SYN_RECEIVED and t.listener >= 0:
        l = &st.listeners[t.listener]
        if l.half_open:
            l.half_open -= 1
    if err and t.soerror == 0:
        t.soerror = err
    if t.flags & TF_HANDLE:
        tcp_set_state(st, t, CLOSED)
        timer_cancel_all(st, t)
        flow_remove(st, t)
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
    t.adv_mss = <uint16_t>(st.mtu - IPV4_HLEN - TCP_HLEN)
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
    mss = st.mtu - IPV4_HLEN - TCP_HLEN
    if peer_mss < mss:
        mss = peer_mss
    if t.flags & TF_TS_OK:
        mss -= 12
    if mss < 64:
        mss = 64
    t.mss = <uint16_t>mss


cdef inline void tcp_init_cc(StackState *st, Tcb *t) noexcept nogil:
    # RFC 6928 initial window: min(10 MSS, max(2 MSS, 14600))
    cdef uint32_t iw = 14600 if 14600 > 2 * t.mss else 2 * t.mss
    if iw > 10 * t.mss:
        iw = 10 * t.mss
    t.cwnd = iw
    t.ssthresh = 0x7fffffff
    t.recover = t.iss
    t.high_rxt = t.iss
    t.quickack = QUICKACK_SEGMENTS
    t.last_rcv = st.now


cdef void tcp_rtt_sample(StackState *st, Tcb *t, uint64_t r) noexcept nogil:
    """RFC 6298 section 2, with G = the wheel tick."""
    cdef uint64_t diff, k
    if t.srtt == 0:
        t.srtt = r if r else 1
        t.rttvar = r // 2
    else:
        diff = t.srtt - r if t.srtt > r else r - t.srtt
        t.rttvar = (3 * t.rttvar + diff) // 4
        t.srtt = (7 * t.srtt + r) // 8
        if t.srtt == 0:
            t.srtt = 1
    k = 4 * t.rttvar
    if k < st.tick_ns:
        k = st.tick_ns
    t.rto = t.srtt + k
    if t.rto < st.cfg.rto_min_ns:
        t.rto = st.cfg.rto_min_ns
    if t.rto > st.cfg.rto_max_ns:
        t.rto = st.cfg.rto_max_ns


cdef uint32_t tcp_retransmit_range(StackState *st, Tcb *t, uint32_t seq, uint32_t maxlen) noexcept nogil:
    """Resend up to min(maxlen, MSS) bytes from seq (>= snd_una), with the
    FIN if it falls inside; returns the sequence space sent (0 if none)."""
    cdef uint64_t off = t.snd.head + <uint32_t>(seq - t.snd_una)
    cdef uint32_t n = <uint32_t>(t.snd.tail - off) if t.snd.tail > off else 0
    cdef uint8_t flags = TCP_ACK
    cdef uint32_t span
    if t.snd_una == t.iss:
        return 0        # the SYN is retransmitted by tcp_output
    if n > <uint32_t>(t.snd_max - seq):
        n = t.snd_max - seq     # only what was sent: new data is tcp_send_new's (window, snd_max)
    if n > maxlen:
        n = maxlen
    if n > t.mss:
        n = t.mss
    if (t.flags & TF_FIN_SENT) and seq + n == tcp_fin_seq(t) and seq_lt(seq + n, t.snd_max):
        flags |= TCP_FIN
    if n == 0 and not (flags & TCP_FIN):
        return 0
    if n and off + n == t.snd.tail:
        flags |= TCP_PSH
    if not tcp_emit(st, t, seq, flags, off, n):
        return 0
    st.ctr[C_TCP_RETRANSMITS] += 1
    span = n + (1 if flags & TCP_FIN else 0)
    return span


cdef void tcp_retransmit_first(StackState *st, Tcb *t) noexcept nogil:
    """Resend the first unacknowledged segment, whatever the windows say
    (it was inside them when first sent)."""
    cdef uint32_t span = tcp_retransmit_range(st, t, t.snd_una, t.mss)
    if span and seq_lt(t.snd_nxt, t.snd_una + span):
        t.snd_nxt = t.snd_una + span
    if span and seq_lt(t.high_rxt, t.snd_una + span):
        t.high_rxt = t.snd_una + span


cdef bint tcp_ooo_add(Tcb *t, uint64_t s, uint64_t e) noexcept nogil:
    """Record [s, e) as held beyond the in-order data. False (nothing
    changed) when it would need more than OOO_MAX separate ranges."""
    cdef uint64_t ns[OOO_MAX + 2]
    cdef uint64_t ne[OOO_MAX + 2]
    cdef uint32_t n = 0, i = 0
    cdef bint placed = False
    while i < t.ooo_n:
        if t.ooo_end[i] < s:
            ns[n] = t.ooo_start[i]
            ne[n] = t.ooo_end[i]
            n += 1
        elif t.ooo_start[i] > e:
            if not placed:
                ns[n] = s
                ne[n] = e
                n += 1
                placed = True
            ns[n] = t.ooo_start[i]
            ne[n] = t.ooo_end[i]
            n += 1
        else:
            # overlaps or touches: absorb into [s, e)
            if t.ooo_start[i] < s:
                s = t.ooo_start[i]
            if t.ooo_end[i] > e:
                e = t.ooo_end[i]
        if n > OOO_MAX:
            return False
        i += 1
    if not placed:
        if n >= OOO_MAX:
            return False
        ns[n] = s
        ne[n] = e
        n += 1
    for i in range(n):
        t.ooo_start[i] = ns[i]
        t.ooo_end[i] = ne[i]
    t.ooo_n = <uint8_t>n
    return True


cdef inline bint tcp_ooo_covers(const Tcb *t, uint64_t s, uint64_t e) noexcept nogil:
    cdef uint32_t i
    for i in range(t.ooo_n):
        if t.ooo_start[i] <= s and e <= t.ooo_end[i]:
            return True
    return False


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
    if n:
        if delta == 0:
            memcpy(window_at(&t.rcv, off), data, n)
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
                memcpy(window_at(&t.rcv, off), data, n)
                tcp_note_ooo_block(t, off, off + n)
                st.ctr[C_TCP_OOO_SEGMENTS] += 1
        st.ctr[C_TCP_DATA_IN_BYTES] += n
        t.rcv_nxt = t.irs + 1 + <uint32_t>t.rcv.tail
    if th.flags & TCP_FIN and not trimmed:
        t.fin_off = fin_at
    if t.flags & TF_APP_CLOSED:
        t.rcv.head = t.rcv.tail         # nobody will read: consume at once
    # ACK policy (RFC 9293 3.8.6.3, RFC 5681 4.2): at once for out-of-order
    # data, a filled hole, a duplicate, or while the peer is in slow start
    # (quick-ACK); otherwise every second full segment, or after the
    # delayed-ACK timer.
    if delta != 0 or filled_hole or trimmed or duplicate or n == 0:
        t.flags |= TF_ACK_NOW
    elif n:
        t.segs_unacked += 1
        if t.quickack:
            t.quickack -= 1
            t.flags |= TF_ACK_NOW
        elif t.segs_unacked >= 2 or st.cfg.delack_ns == 0:
            t.flags |= TF_ACK_NOW
        elif not (t.flags & TF_DELACK):
            t.flags |= TF_DELACK
            t.t_delack = st.now + st.cfg.delack_ns


cdef void tcp_enter_time_wait(StackState *st, Tcb *t) noexcept nogil:
    tcp_set_state(st, t, TIME_WAIT)
    t.t_rexmt = 0
    t.t_persist = 0
    t.t_keep = 0
    t.t_delack = 0
    t.t_2msl = st.now + 2 * st.cfg.msl_ns
    if not (t.flags & TF_HANDLE):
        # nothing left to read or send: TIME_WAIT needs only the sequence numbers
        window_detach(&t.rcv, &st.rcv_arena)
        window_detach(&t.snd, &st.snd_arena)
    timer_rearm(st, t)


cdef void tcp_fin_arrived(StackState *st, Tcb *t) noexcept nogil:
    """RFC 9293 3.10.7.4 eighth step, once the FIN is in sequence."""
    cdef uint8_t s = t.state
    t.flags |= TF_RCVD_FIN | TF_ACK_NOW
    t.rcv_nxt += 1
    if s == SYN_RECEIVED or s == ESTABLISHED:
        tcp_set_state(st, t, CLOSE_WAIT)
    elif s == FIN_WAIT_1:
        if (t.flags & TF_FIN_SENT) and t.snd_una == t.snd_max:
            tcp_enter_time_wait(st, t)
        else:
            tcp_set_state(st, t, CLOSING)
    elif s == FIN_WAIT_2:
        tcp_enter_time_wait(st, t)


cdef void tcp_challenge_ack(StackState *st, Tcb *t) noexcept nogil:
    """RFC 5961: answer a suspicious RST/SYN/ACK with an ACK of our state,
    at most challenge_ack_limit per second for the whole stack (RFC 5961 7)."""
    if st.now - st.challenge_window_start >= 1000000000:
        st.challenge_window_start = st.now
        st.challenge_count = 0
    if st.challenge_count >= st.cfg.challenge_ack_limit:
        return
    st.challenge_count += 1
    st.ctr[C_TCP_CHALLENGE_ACKS] += 1
    t.flags |= TF_ACK_NOW
    tcp_schedule(st, t)


cdef void tcp_established(StackState *st, Tcb *t) noexcept nogil:
    """Handshake complete: SYN_RECEIVED or SYN_SENT -> ESTABLISHED."""
    cdef Listener *l
    cdef uint32_t slot
    tcp_set_state(st, t, ESTABLISHED)
    t.retries = 0
    t.backoff = 0
    t.last_rcv = st.now
    if t.keep_cnt:
        t.t_keep = st.now + t.keep_idle
    if t.flags & TF_PASSIVE and t.listener >= 0:
        l = &st.listeners[t.listener]
        if l.half_open:
            l.half_open -= 1
        if not l.active or l.aq_len >= l.aq_cap:
            # no listener to take it any more: refuse it cleanly
            t.flags |= TF_RST_PENDING
            l.overflows += 1
            st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
            return
        slot = (l.aq_head + l.aq_len) % l.aq_cap
        l.aq[2 * slot] = t.id
        l.aq[2 * slot + 1] = t.gen
        l.aq_len += 1


cdef Tcb *listener_pop(StackState *st, Listener *l) noexcept nogil:
    """The oldest connection in l's accept queue that still exists (entries
    are id + generation: one reset before accept() is skipped), or NULL."""
    cdef uint32_t id, gen
    cdef Tcb *t
    while l.aq_len:
        id = l.aq[2 * l.aq_head]
        gen = l.aq[2 * l.aq_head + 1]
        l.aq_head = (l.aq_head + 1) % l.aq_cap
        l.aq_len -= 1
        t = &st.tcbs[id]
        if t.gen == gen and t.state != CLOSED:
            return t
    return NULL


cdef void tcp_enter_recovery(StackState *st, Tcb *t) noexcept nogil:
    """Fast retransmit (RFC 5681 3.2, RFC 6582 3.2, RFC 6675 5 step 4)."""
    t.recover = t.snd_max
    cc_on_congestion(st, t)
    t.rtt_start = 0                      # Karn
    t.lt_allow = 0
    t.high_rxt = t.snd_una
    if t.flags & TF_SACK_OK:
        t.in_recovery = REC_SACK
        t.cwnd = t.ssthresh
    else:
        t.in_recovery = REC_NEWRENO
        t.cwnd = t.ssthresh + DUPTHRESH * t.mss
    st.ctr[C_TCP_FAST_RETRANSMITS] += 1
    tcp_retransmit_first(st, t)


cdef void tcp_ack_new_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """SND.UNA < SEG.ACK <= SND.MAX: release acknowledged bytes, take an RTT
    sample, grow the window or move loss recovery on."""
    cdef uint32_t acked = th.ack - t.snd_una
    cdef uint64_t new_head
    cdef uint32_t data_acked
    cdef uint64_t r
    # SYN takes one sequence number but no window byte
    if t.snd_una == t.iss:
        new_head = t.snd.head + acked - 1
    else:
        new_head = t.snd.head + acked
    if new_head > t.snd.tail:
        new_head = t.snd.tail                   # the FIN is acked too
    data_acked = <uint32_t>(new_head - t.snd.head)
    t.snd.head = new_head
    t.snd_una = th.ack
    if seq_lt(t.snd_nxt, t.snd_una):
        t.snd_nxt = t.snd_una
    if seq_lt(t.high_rxt, t.snd_una):
        t.high_rxt = t.snd_una
    sack_trim(t)
    # RTT: timestamps when both sides use them (RFC 7323 4), else Karn's timed segment
    if t.flags & TF_TS_OK and th.opts.present & OPT_TIMESTAMP and th.opts.ts_ecr != 0:
        r = <uint64_t>(<uint32_t>(tcp_ts_clock(t, st.now) - th.opts.ts_ecr)) * 1000000
        if r < 60000000000ULL:
            tcp_rtt_sample(st, t, r)
        t.rtt_start = 0
    elif t.rtt_start and seq_gt(th.ack, t.rtt_seq):
        tcp_rtt_sample(st, t, st.now - t.rtt_start)
        t.rtt_start = 0
    t.retries = 0
    t.backoff = 0
    t.lt_allow = 0
    if t.in_recovery:
        if seq_geq(th.ack, t.recover):
            t.in_recovery = REC_NONE
            t.dupacks = 0
            cc_after_recovery(st, t)
        elif t.in_recovery == REC_NEWRENO:
            # partial ACK (RFC 6582 3.2 step 5): the next hole is lost too
            tcp_retransmit_first(st, t)
            t.cwnd = t.cwnd - data_acked if t.cwnd > data_acked else 0
            if data_acked >= t.mss:
                t.cwnd += t.mss
            if t.cwnd < t.mss:
                t.cwnd = t.mss
        # REC_SACK: tcp_output sends NextSeg segments as the pipe allows
    else:
        t.dupacks = 0
        cc_on_ack(st, t, data_acked)
    # retransmission timer (RFC 6298 5.2, 5.3)
    if t.snd_una == t.snd_max:
        t.t_rexmt = 0
    else:
        tcp_arm_rexmt(st, t)


cdef void tcp_dup_ack(StackState *st, Tcb *t, uint32_t newly_sacked) noexcept nogil:
    """A duplicate ACK (RFC 5681 2; with SACK, one that SACKs new data,
    RFC 6675 2): fast retransmit at the threshold, limited transmit below it
    (RFC 3042), window inflation during NewReno recovery."""
    cdef bint lost
    st.ctr[C_TCP_DUP_ACKS] += 1
    if t.in_recovery == REC_NEWRENO:
        t.cwnd += t.mss
        return
    if t.in_recovery == REC_SACK:
        return                      # tcp_output works from the pipe
    t.dupacks += 1
    lost = t.dupacks >= DUPTHRESH
    if t.flags & TF_SACK_OK and not lost:
        lost = sack_is_lost(t, t.snd_una)
    if lost:
        # RFC 6582 3.2 step 1 / RFC 6675 5: not again for losses of the same
        # window. `recover` is one past the highest byte sent, so an ACK that
        # reaches it "covers more than recover" in the RFC's terms.
        if seq_geq(t.snd_una, t.recover) or t.recover == t.iss:
            tcp_enter_recovery(st, t)
        return
    # RFC 3042: one new segment per duplicate ACK, up to two, beyond cwnd;
    # only previously unsent data, so not while an RTO's go-back is resending
    if t.snd_nxt == t.snd_max:
        t.lt_allow = t.dupacks * t.mss


cdef void tcp_reply_rst_seq(StackState *st, Tcb *t, uint32_t seq) noexcept nogil:
    """<SEQ=seq><CTL=RST> on this connection's 4-tuple (RFC 9293: reset the
    other side's bad state without touching ours)."""
    t.flags &= ~TF_RST_PENDING
    tcp_emit(st, t, seq, TCP_RST, 0, 0)
    st.ctr[C_TCP_RST_SENT] += 1


cdef void tcp_input_syn_sent(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """RFC 9293 3.10.7.3."""
    cdef bint ack = (th.flags & TCP_ACK) != 0
    if ack and (seq_leq(th.ack, t.iss) or seq_gt(th.ack, t.snd_max)):
        if not (th.flags & TCP_RST):
            # A stale half-open connection on the other side: reset it.
            tcp_reply_rst_seq(st, t, th.ack)
        st.ctr[C_TCP_BAD_ACK] += 1
        return
    if th.flags & TCP_RST:
        if ack:
            st.ctr[C_TCP_RST_RCVD] += 1
            tcp_closed(st, t, _ECONNREFUSED)
        return
    if not (th.flags & TCP_SYN):
        return
    t.irs = th.seq
    t.rcv_nxt = th.seq + 1
    t.rcv_adv = t.rcv_nxt
    t.fin_off = <uint64_t>-1
    tcp_negotiate(st, t, &th.opts)
    tcp_init_cc(st, t)
    if ack:
        if t.rtt_start and t.retries == 0:
            tcp_rtt_sample(st, t, st.now - t.rtt_start)
        t.rtt_start = 0
        t.snd_una = th.ack
        t.snd_wnd = th.window           # never scaled in a SYN (RFC 7323 2.2)
        t.max_snd_wnd = t.snd_wnd
        t.snd_wl1 = th.seq
        t.snd_wl2 = th.ack
        t.t_rexmt = 0
        tcp_established(st, t)
        t.flags |= TF_ACK_NOW
        if th.payload_len or th.flags & TCP_FIN:
            tcp_receive_data(st, t, th)
            if t.fin_off == t.rcv.tail:
                tcp_fin_arrived(st, t)
    else:
        # simultaneous open (RFC 9293 figure 8): answer with SYN-ACK on our ISS
        tcp_set_state(st, t, SYN_RECEIVED)
        t.snd_wnd = th.window
        t.max_snd_wnd = t.snd_wnd
        t.snd_wl1 = th.seq
        t.snd_nxt = t.iss
        t.t_rexmt = 0


cdef inline bint tcp_seq_acceptable(const Tcb *t, uint32_t seq, uint32_t seg_len) noexcept nogil:
    """RFC 9293 3.10.7.4 first step, against the window we advertised."""
    cdef uint32_t wnd = t.rcv_adv - t.rcv_nxt if seq_gt(t.rcv_adv, t.rcv_nxt) else 0
    cdef uint32_t space = tcp_rcv_space(t)
    cdef uint32_t cap = <uint32_t>65535 << t.rcv_wscale
    if space > wnd:
        wnd = space
    if wnd > cap:
        wnd = cap           # RCV.WND can never be more than the window field can offer
    if wnd == 0:
        # Nothing fits, "but special allowance should be made to accept valid
        # ACKs, URGs, and RSTs": a segment at RCV.NXT goes on (as in Linux) so
        # that its ACK is taken; its text is trimmed away.
        return seq == t.rcv_nxt
    if seg_len == 0:
        return seq_leq(t.rcv_nxt, seq) and seq_lt(seq, t.rcv_nxt + wnd)
    return ((seq_leq(t.rcv_nxt, seq) and seq_lt(seq, t.rcv_nxt + wnd)) or
            (seq_leq(t.rcv_nxt, seq + seg_len - 1) and seq_lt(seq + seg_len - 1, t.rcv_nxt + wnd)))


cdef inline bint tcp_paws_reject(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """RFC 7323 5.3: a segment whose TSval is older than TS.Recent is an old
    duplicate (unless TS.Recent itself is too old to trust)."""
    if not (t.flags & TF_TS_OK) or not (th.opts.present & OPT_TIMESTAMP) or th.flags & TCP_RST:
        return False
    if not seq_lt(th.opts.ts_val, t.ts_recent):
        return False
    if st.now - t.ts_recent_at > PAWS_IDLE_NS:
        return False                    # RFC 7323 5.5: TS.Recent expired
    return True


cdef void tcp_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """One segment for connection t (found by the classifier)."""
    cdef uint8_t s = t.state
    cdef uint32_t seg_len = th.payload_len + (1 if th.flags & TCP_SYN else 0) + \
        (1 if th.flags & TCP_FIN else 0)
    cdef uint32_t newly_sacked
    cdef bint was_zero, window_changed
    st.ctr[C_TCP_SEGS_IN] += 1
    if s == CLOSED or s == LISTEN:
        return
    if st.now - t.last_rcv > t.rto and s == ESTABLISHED:
        t.quickack = QUICKACK_SEGMENTS      # the peer restarts from slow start after idle
    t.last_rcv = st.now
    t.keep_probes = 0
    if s == SYN_SENT:
        tcp_input_syn_sent(st, t, th)
        tcp_schedule(st, t)
        return
    # Simultaneous open (RFC 9293 figure 8, line 6): the other side's SYN-ACK
    # repeats its SYN (SEG.SEQ = IRS, before RCV.NXT) and acks ours. It
    # completes the handshake (as in Linux) rather than failing the sequence
    # test; answered as an old duplicate, two such ends would trade SYN-ACKs.
    if (s == SYN_RECEIVED and not (t.flags & TF_PASSIVE) and th.seq == t.irs and
            (th.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) and
            seq_lt(t.snd_una, th.ack) and seq_leq(th.ack, t.snd_max)):
        t.snd_una = th.ack
        t.snd_wnd = th.window           # never scaled in a SYN (RFC 7323 2.2)
        t.max_snd_wnd = t.snd_wnd
        t.snd_wl1 = th.seq
        t.snd_wl2 = th.ack
        t.rtt_start = 0
        t.t_rexmt = 0
        tcp_established(st, t)
        if th.payload_len or th.flags & TCP_FIN:
            tcp_receive_data(st, t, th)
            if t.fin_off == t.rcv.tail:
                tcp_fin_arrived(st, t)
        tcp_schedule(st, t)
        return
    # A retransmitted SYN while we wait for the handshake's ACK: our SYN-ACK
    # was lost, send it again.
    if s == SYN_RECEIVED and th.flags & TCP_SYN and not (th.flags & TCP_ACK) and th.seq == t.irs:
        t.flags |= TF_ACK_NOW
        tcp_schedule(st, t)
        return
    # TIME_WAIT: a retransmitted FIN gets its ACK again and restarts 2MSL.
    if s == TIME_WAIT and th.flags & TCP_FIN and not (th.flags & TCP_RST) and \
            th.seq + seg_len == t.rcv_nxt:
        t.flags |= TF_ACK_NOW
        t.t_2msl = st.now + 2 * st.cfg.msl_ns
        timer_rearm(st, t)
        tcp_schedule(st, t)
        return
    # PAWS before anything else (RFC 7323 5.3 R1)
    if tcp_paws_reject(st, t, th):
        st.ctr[C_TCP_PAWS_DROPPED] += 1
        t.flags |= TF_ACK_NOW
        tcp_schedule(st, t)
        return
    # first: sequence number
    if not tcp_seq_acceptable(t, th.seq, seg_len):
        st.ctr[C_TCP_BAD_SEQ] += 1
        if not (th.flags & TCP_RST):
            if seg_len and seq_lt(th.seq, t.rcv_nxt):
                # an old duplicate: tell the sender (RFC 2883 D-SACK)
                tcp_note_dsack(t, th.seq, th.seq + seg_len)
            t.flags |= TF_ACK_NOW
            tcp_schedule(st, t)
        return
    # timestamps: remember the peer's clock (RFC 7323 4.3), only from a
    # segment at or below Last.ACK.sent: that is rcv_nxt unless in-order
    # data is waiting for a (delayed) ACK, whose TSecr must then stay the
    # earliest unacknowledged segment's TSval
    if t.flags & TF_TS_OK and th.opts.present & OPT_TIMESTAMP and seq_leq(th.seq, t.rcv_adv) \
            and seq_leq(th.seq, t.rcv_nxt) and (t.segs_unacked == 0 or seq_lt(th.seq, t.rcv_nxt)):
        if seq_geq(th.opts.ts_val, t.ts_recent):
            t.ts_recent = th.opts.ts_val
            t.ts_recent_at = st.now
    # second: RST (RFC 5961 3.2: only an exact hit resets)
    if th.flags & TCP_RST:
        if th.seq != t.rcv_nxt:
            tcp_challenge_ack(st, t)
            return
        st.ctr[C_TCP_RST_RCVD] += 1
        if s == SYN_RECEIVED:
            tcp_closed(st, t, 0 if t.flags & TF_PASSIVE else _ECONNREFUSED)
        elif s == ESTABLISHED or s == FIN_WAIT_1 or s == FIN_WAIT_2 or s == CLOSE_WAIT:
            tcp_closed(st, t, _ECONNRESET)
        else:
            tcp_closed(st, t, 0)
        return
    # fourth: SYN in a synchronized state (RFC 5961 4.2)
    if th.flags & TCP_SYN:
        tcp_challenge_ack(st, t)
        return
    # fifth: ACK
    if not (th.flags & TCP_ACK):
        return
    if s == SYN_RECEIVED:
        if seq_lt(t.snd_una, th.ack) and seq_leq(th.ack, t.snd_max):
            t.snd_wnd = <uint32_t>th.window << t.snd_wscale
            t.max_snd_wnd = t.snd_wnd
            t.snd_wl1 = th.seq
            t.snd_wl2 = th.ack
            if t.rtt_start and t.retries == 0:
                tcp_rtt_sample(st, t, st.now - t.rtt_start)
            t.rtt_start = 0
            t.snd_una = th.ack
            t.t_rexmt = 0
            tcp_established(st, t)
            s = t.state
        else:
            tcp_reply_rst_seq(st, t, th.ack)
            return
    else:
        if seq_gt(th.ack, t.snd_max):
            # acks something not yet sent (RFC 9293: ACK it and drop it;
            # RFC 5961 5.2 makes it a challenge ACK)
            st.ctr[C_TCP_BAD_ACK] += 1
            tcp_challenge_ack(st, t)
            return
        if seq_lt(th.ack, t.snd_una - t.max_snd_wnd):
            # far below anything outstanding (RFC 5961 5.2)
            st.ctr[C_TCP_BAD_ACK] += 1
            tcp_challenge_ack(st, t)
            return
        newly_sacked = sack_update(st, t, th)
        window_changed = (<uint32_t>th.window << t.snd_wscale) != t.snd_wnd
        if seq_gt(th.ack, t.snd_una):
            tcp_ack_new_data(st, t, th)
        elif th.ack == t.snd_una and t.snd_max != t.snd_una and t.snd_wnd != 0 and (
                newly_sacked or (th.payload_len == 0 and not (th.flags & TCP_FIN) and
                                 not window_changed)):
            # (with the window shut, what is outstanding is a zero-window
            # probe and its ACKs are answers to it, not signs of loss)
            tcp_dup_ack(st, t, newly_sacked)
        # window update (RFC 9293 3.10.7.4 fifth step)
        if seq_lt(t.snd_wl1, th.seq) or (t.snd_wl1 == th.seq and seq_leq(t.snd_wl2, th.ack)):
            was_zero = t.snd_wnd == 0
            t.snd_wnd = <uint32_t>th.window << t.snd_wscale
            if t.snd_wnd > t.max_snd_wnd:
                t.max_snd_wnd = t.snd_wnd
            t.snd_wl1 = th.seq
            t.snd_wl2 = th.ack
            if was_zero and t.snd_wnd:
                t.t_persist = 0
                t.backoff = 0
        if s == FIN_WAIT_1 and t.flags & TF_FIN_SENT and t.snd_una == t.snd_max:
            tcp_set_state(st, t, FIN_WAIT_2)
            s = FIN_WAIT_2
            if t.flags & TF_APP_CLOSED:
                # an orphan: do not wait forever for the peer's FIN
                t.t_2msl = st.now + 2 * st.cfg.msl_ns
                timer_rearm(st, t)
        elif s == CLOSING and t.flags & TF_FIN_SENT and t.snd_una == t.snd_max:
            tcp_enter_time_wait(st, t)
            tcp_schedule(st, t)
            return
        elif s == LAST_ACK and t.flags & TF_FIN_SENT and t.snd_una == t.snd_max:
            tcp_closed(st, t, 0)
            return
        elif s == TIME_WAIT:
            return
    # sixth: URG is not supported; urgent data is delivered in line
    # seventh: segment text
    if s == ESTABLISHED or s == FIN_WAIT_1 or s == FIN_WAIT_2:
        if th.payload_len or th.flags & TCP_FIN:
            tcp_receive_data(st, t, th)
    # eighth: FIN, once everything before it has arrived
    if not (t.flags & TF_RCVD_FIN) and t.fin_off != <uint64_t>-1 and t.fin_off == t.rcv.tail:
        tcp_fin_arrived(st, t)
    tcp_schedule(st, t)
