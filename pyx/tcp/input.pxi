# TCP input ("process" in smoltcp's terms): one segment arrives for one
# connection, RFC 9293 section 3.10.7 step by step. The time is st.now;
# nothing here reads a clock. Nothing here sends: input changes the state,
# schedules output (tcp_schedule, timers) and records what is owed at once
# (TF_ACK_NOW, TF_REXMT_FIRST, TF_RST_REPLY). tcp_input (output.pxi) runs
# tcp_process, sends what is owed, then runs tcp_process_text.

cdef int _ECONNRESET = _errno.ECONNRESET
cdef int _ECONNREFUSED = _errno.ECONNREFUSED
cdef int _ETIMEDOUT = _errno.ETIMEDOUT
cdef int _EPIPE = _errno.EPIPE
cdef uint64_t PAWS_IDLE_NS = 24 * 86400 * 1000000000ULL   # RFC 7323 5.5: TS.Recent older than 24 days is invalid


cdef void tcp_enter_time_wait(StackState *st, Tcb *t) noexcept nogil:
    tcp_set_state(st, t, TIME_WAIT)
    t.t_rexmt = 0
    t.t_persist = 0
    t.t_keep = 0
    t.t_delack = 0
    t.t_2msl = st.now + 2 * st.cfg.msl_ns
    if not (t.flags & TF_HANDLE):
        # nothing left to read or send: TIME_WAIT needs only the sequence
        # numbers; once its last ACK is out (stack_output) a record
        # (timewait.pxi) takes over from the control block
        tcp_rcv_detach(st, t)
        window_detach(&t.snd, &st.snd_arena)
    timer_rearm(st, t)
    tcp_schedule(st, t)


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
    if not rate_allow(&st.challenge_rate, st.cfg.challenge_ack_limit, st.now):
        return
    st.ctr[C_TCP_CHALLENGE_ACKS] += 1
    t.flags |= TF_ACK_NOW
    tcp_schedule(st, t)


cdef void tcp_established(StackState *st, Tcb *t, const TcpHdr *th, bint rtt_sample) noexcept nogil:
    """Handshake complete: th acks our SYN (a SYN-ACK, the handshake's ACK,
    a SYN cookie's ACK). Take SND.UNA and the send window from it, stop the
    SYN timer (with an RTT sample if asked and Karn allows), SYN_RECEIVED or
    SYN_SENT -> ESTABLISHED, and queue a passive child for accept()."""
    if rtt_sample and t.rtt_start and t.retries == 0:
        tcp_rtt_sample(st, t, st.now - t.rtt_start)
    t.rtt_start = 0
    t.snd_una = th.ack
    if th.flags & TCP_SYN:
        t.snd_wnd = th.window           # never scaled in a SYN (RFC 7323 2.2)
    else:
        t.snd_wnd = <uint32_t>th.window << t.snd_wscale
    t.max_snd_wnd = t.snd_wnd
    t.snd_wl1 = th.seq
    t.snd_wl2 = th.ack
    t.t_rexmt = 0
    tcp_set_state(st, t, ESTABLISHED)
    if t.flags & TF_PASSIVE:
        tcp_syn_data_deliver(st, t)
    t.retries = 0
    t.backoff = 0
    t.last_rcv = st.now
    if t.keep_cnt:
        t.t_keep = st.now + t.keep_idle
    if t.flags & TF_PASSIVE and t.listener >= 0 and not listener_enqueue(st, t):
        t.flags |= TF_RST_PENDING       # no listener to take it any more: refuse it cleanly


cdef inline void tcp_owe_rst(Tcb *t, uint32_t seq) noexcept nogil:
    """Record that <SEQ=seq><CTL=RST> is owed on this connection's 4-tuple
    (RFC 9293: reset the other side's bad state without touching ours);
    tcp_send_owed sends it before anything else."""
    t.flags = (t.flags & ~TF_RST_PENDING) | TF_RST_REPLY
    t.rst_seq = seq


cdef void tcp_input_syn_sent(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """RFC 9293 3.10.7.3."""
    cdef bint ack = (th.flags & TCP_ACK) != 0
    if ack and (seq_leq(th.ack, t.iss) or seq_gt(th.ack, t.snd_max)):
        if not (th.flags & TCP_RST):
            # A stale half-open connection on the other side: reset it.
            tcp_owe_rst(t, th.ack)
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
    ecn_syn_ack_received(st, t, th)
    if ack:
        tcp_established(st, t, th, True)
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


cdef bint tcp_process(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """One segment for connection t, up to the fifth step (ACK). True if
    its text and FIN remain for tcp_process_text; False if it was wholly
    handled (or dropped) here. Split there so that what the ACK step owes is
    sent before the text moves RCV.NXT (tcp_input)."""
    cdef uint8_t s = t.state
    cdef uint32_t seg_len = th.payload_len + (1 if th.flags & TCP_SYN else 0) + \
        (1 if th.flags & TCP_FIN else 0)
    cdef uint32_t newly_sacked, old_una, sacked_before
    cdef int64_t delivered
    cdef bint was_zero, window_changed
    st.ctr[C_TCP_SEGS_IN] += 1
    if s == CLOSED or s == LISTEN:
        return False
    if st.now - t.last_rcv > t.rto and s == ESTABLISHED:
        t.quickack = QUICKACK_SEGMENTS      # the peer restarts from slow start after idle
    t.last_rcv = st.now
    t.keep_probes = 0
    if s == SYN_SENT:
        tcp_input_syn_sent(st, t, th)
        tcp_schedule(st, t)
        return False
    # Simultaneous open (RFC 9293 figure 8, line 6): the other side's SYN-ACK
    # repeats its SYN (SEG.SEQ = IRS, before RCV.NXT) and acks ours. It
    # completes the handshake (as in Linux) rather than failing the sequence
    # test; answered as an old duplicate, two such ends would trade SYN-ACKs.
    if (s == SYN_RECEIVED and not (t.flags & TF_PASSIVE) and th.seq == t.irs and
            (th.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) and
            seq_lt(t.snd_una, th.ack) and seq_leq(th.ack, t.snd_max)):
        tcp_established(st, t, th, False)
        if th.payload_len or th.flags & TCP_FIN:
            tcp_receive_data(st, t, th)
            if t.fin_off == t.rcv.tail:
                tcp_fin_arrived(st, t)
        tcp_schedule(st, t)
        return False
    # A retransmitted SYN while we wait for the handshake's ACK: our SYN-ACK
    # was lost, send it again.
    if s == SYN_RECEIVED and th.flags & TCP_SYN and not (th.flags & TCP_ACK) and th.seq == t.irs:
        t.flags |= TF_ACK_NOW
        tcp_schedule(st, t)
        return False
    # PAWS before anything else (RFC 7323 5.3 R1)
    if tcp_paws_reject(st, t, th):
        st.ctr[C_TCP_PAWS_DROPPED] += 1
        t.flags |= TF_ACK_NOW
        tcp_schedule(st, t)
        return False
    # TIME_WAIT: a retransmitted FIN gets its ACK again (echoing its TSval:
    # it covers Last.ACK.sent, RFC 7323 4.3) and restarts 2MSL.
    if s == TIME_WAIT and th.flags & TCP_FIN and not (th.flags & TCP_RST) and \
            th.seq + seg_len == t.rcv_nxt:
        if t.flags & TF_TS_OK and th.opts.present & OPT_TIMESTAMP:
            t.ts_recent = th.opts.ts_val
            t.ts_recent_at = st.now
        t.flags |= TF_ACK_NOW
        t.t_2msl = st.now + 2 * st.cfg.msl_ns
        timer_rearm(st, t)
        tcp_schedule(st, t)
        return False
    # first: sequence number
    if not tcp_seq_acceptable(t, th.seq, seg_len):
        st.ctr[C_TCP_BAD_SEQ] += 1
        if not (th.flags & TCP_RST):
            if seg_len and seq_lt(th.seq, t.rcv_nxt):
                # an old duplicate: tell the sender (RFC 2883 D-SACK)
                tcp_note_dsack(t, th.seq, th.seq + seg_len)
            t.flags |= TF_ACK_NOW
            tcp_schedule(st, t)
        return False
    # timestamps: remember the peer's clock (RFC 7323 4.3), only from a
    # segment at or below Last.ACK.sent: that is rcv_nxt unless in-order
    # data is waiting for a (delayed) ACK, whose TSecr must then stay the
    # earliest unacknowledged segment's TSval
    if t.flags & TF_TS_OK and th.opts.present & OPT_TIMESTAMP and seq_leq(th.seq, t.rcv_adv) \
            and seq_leq(th.seq, t.rcv_nxt) and (t.segs_unacked == 0 or seq_lt(th.seq, t.rcv_nxt)):
        if seq_geq(th.opts.ts_val, t.ts_recent):
            t.ts_recent = th.opts.ts_val
            t.ts_recent_at = st.now
    ecn_input(st, t, th)
    # second: RST (RFC 5961 3.2: only an exact hit resets)
    if th.flags & TCP_RST:
        if th.seq != t.rcv_nxt:
            tcp_challenge_ack(st, t)
            return False
        st.ctr[C_TCP_RST_RCVD] += 1
        if s == SYN_RECEIVED:
            tcp_closed(st, t, 0 if t.flags & TF_PASSIVE else _ECONNREFUSED)
        elif s == ESTABLISHED or s == FIN_WAIT_1 or s == FIN_WAIT_2 or s == CLOSE_WAIT:
            tcp_closed(st, t, _ECONNRESET)
        else:
            tcp_closed(st, t, 0)
        return False
    # fourth: SYN in a synchronized state (RFC 5961 4.2)
    if th.flags & TCP_SYN:
        tcp_challenge_ack(st, t)
        return False
    # fifth: ACK
    if not (th.flags & TCP_ACK):
        return False
    if s == SYN_RECEIVED:
        if seq_lt(t.snd_una, th.ack) and seq_leq(th.ack, t.snd_max):
            tcp_established(st, t, th, True)
            s = t.state
        else:
            tcp_owe_rst(t, th.ack)
            return False
    else:
        if seq_gt(th.ack, t.snd_max):
            # acks something not yet sent (RFC 9293: ACK it and drop it;
            # RFC 5961 5.2 makes it a challenge ACK)
            st.ctr[C_TCP_BAD_ACK] += 1
            tcp_challenge_ack(st, t)
            return False
        if seq_lt(th.ack, t.snd_una - t.max_snd_wnd):
            # far below anything outstanding (RFC 5961 5.2)
            st.ctr[C_TCP_BAD_ACK] += 1
            tcp_challenge_ack(st, t)
            return False
        sacked_before = rack_sacked_bytes(t)
        newly_sacked = sack_update(st, t, th)
        rack_update(st, t, th.ack)              # (before SND.UNA moves: tcp/rack.pxi)
        window_changed = (<uint32_t>th.window << t.snd_wscale) != t.snd_wnd
        old_una = t.snd_una
        if seq_gt(th.ack, t.snd_una):
            tcp_ack_new_data(st, t, th)
        elif th.ack == t.snd_una and t.snd_max != t.snd_una and t.snd_wnd != 0 and (
                newly_sacked or (th.payload_len == 0 and not (th.flags & TCP_FIN) and
                                 not window_changed)):
            # (with the window shut, what is outstanding is a zero-window
            # probe and its ACKs are answers to it, not signs of loss)
            tcp_dup_ack(st, t, newly_sacked)
        ecn_ack(st, t, th)
        if rack_on(t):
            rack_detect(st, t)
            rack_after_ack(st, t, th, old_una)
            if prr_on(t):
                # RFC 6937 DeliveredData: SND.UNA's advance plus the change in SACKed bytes
                delivered = <int64_t>(t.snd_una - old_una) + rack_sacked_bytes(t) - sacked_before
                prr_on_ack(st, t, <uint32_t>delivered if delivered > 0 else 0)
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
            return False
        elif s == LAST_ACK and t.flags & TF_FIN_SENT and t.snd_una == t.snd_max:
            tcp_closed(st, t, 0)
            return False
        elif s == TIME_WAIT:
            return False
    return True


cdef void tcp_process_text(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """The rest of tcp_process: sixth to eighth steps, then schedule output."""
    cdef uint8_t s = t.state
    # sixth: URG is not supported; urgent data is delivered in line
    # seventh: segment text
    if s == ESTABLISHED or s == FIN_WAIT_1 or s == FIN_WAIT_2:
        if th.payload_len or th.flags & TCP_FIN:
            tcp_receive_data(st, t, th)
    # eighth: FIN, once everything before it has arrived
    if not (t.flags & TF_RCVD_FIN) and t.fin_off != <uint64_t>-1 and t.fin_off == t.rcv.tail:
        tcp_fin_arrived(st, t)
    tcp_schedule(st, t)
