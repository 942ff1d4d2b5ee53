# TCP timers: what happens when a connection's deadline on the wheel comes.
# Retransmission (RFC 6298 with Karn's backoff), delayed ACK, zero-window
# persist, keepalive, TIME_WAIT and the orphaned FIN_WAIT_2 timeout.

cdef void tcp_rto_fired(StackState *st, Tcb *t) noexcept nogil:
    cdef uint32_t limit
    cdef uint8_t s = t.state
    t.t_rexmt = 0
    if t.snd_una == t.snd_max and s != SYN_SENT and s != SYN_RECEIVED:
        return                              # everything was acked meanwhile
    st.ctr[C_TCP_RTO_FIRED] += 1
    t.retries += 1
    limit = st.cfg.syn_retries if (s == SYN_SENT or s == SYN_RECEIVED) else st.cfg.max_retries
    if t.retries > limit:
        st.ctr[C_TCP_TIMEOUTS] += 1
        if s != SYN_SENT:
            tcp_send_rst(st, t)             # tell the peer we gave up
        tcp_closed(st, t, _ETIMEDOUT)
        return
    if t.backoff < 30:
        t.backoff += 1                      # RFC 6298 5.5: double the RTO
    t.rtt_start = 0                         # Karn: no sample from a retransmission
    if s == SYN_SENT or s == SYN_RECEIVED:
        t.snd_nxt = t.iss                   # tcp_output resends the SYN / SYN-ACK
        tcp_arm_rexmt(st, t)
        tcp_schedule(st, t)
        return
    # RFC 5681 3.1 (7) / RFC 9438 4.8: one segment's worth of window after a
    # timeout, and the SACK scoreboard is no longer trusted (RFC 2018 8).
    # ssthresh drops only on the first timeout of a segment that fast
    # recovery has not already answered for (RFC 5681 (4); Linux
    # tcp_enter_loss): not again on a repeated timeout (cwnd is 1 SMSS
    # then), nor from a window that NewReno recovery inflated.
    if t.in_recovery == REC_NONE and t.retries == 1:
        cc_on_rto(st, t)
    else:
        t.cwnd = t.mss
        t.cubic_epoch = 0
    t.in_recovery = REC_NONE
    t.sack_n = 0
    t.dupacks = 0
    t.lt_allow = 0
    t.recover = t.snd_max
    t.high_rxt = t.snd_una
    t.snd_nxt = t.snd_una                   # go back: resend from the first hole
    tcp_retransmit_first(st, t)
    tcp_arm_rexmt(st, t)
    tcp_schedule(st, t)


cdef void tcp_persist_fired(StackState *st, Tcb *t) noexcept nogil:
    """Window probe (RFC 9293 3.8.6.1): one byte beyond a zero window (or
    into one too small to use), backing off to rto_max; probes never give
    up while they are answered."""
    cdef uint64_t off_nxt = t.snd.head + <uint32_t>(t.snd_nxt - t.snd_una)
    t.t_persist = 0
    if t.snd.tail <= off_nxt or t.snd_nxt != t.snd_una:
        return                              # nothing waiting, or in flight (the RTO times it)
    tcp_emit(st, t, t.snd_nxt, TCP_ACK, off_nxt, 1)
    st.ctr[C_TCP_PERSIST_PROBES] += 1
    if seq_gt(t.snd_nxt + 1, t.snd_max):
        t.snd_max = t.snd_nxt + 1           # an ACK of the probe byte is acceptable
    if t.backoff < 30:
        t.backoff += 1
    t.t_persist = st.now + tcp_backed_off_rto(st, t)


cdef void tcp_keepalive_fired(StackState *st, Tcb *t) noexcept nogil:
    cdef uint64_t due = t.last_rcv + t.keep_idle
    t.t_keep = 0
    if t.keep_cnt == 0 or not (t.state == ESTABLISHED or t.state == CLOSE_WAIT or
                               t.state == FIN_WAIT_2):
        return
    if t.keep_probes == 0 and due > st.now:
        t.t_keep = due                      # traffic since: wait the rest of the idle time
        return
    if t.keep_probes >= t.keep_cnt:
        st.ctr[C_TCP_TIMEOUTS] += 1
        tcp_send_rst(st, t)
        tcp_closed(st, t, _ETIMEDOUT)
        return
    t.keep_probes += 1
    tcp_send_keepalive(st, t)
    t.t_keep = st.now + t.keep_intvl


cdef void tcp_on_timer(StackState *st, Tcb *t, uint64_t now) noexcept nogil:
    st.progress += 1
    if t.t_2msl and t.t_2msl <= now:
        t.t_2msl = 0
        # TIME_WAIT over, or an orphan gave up waiting in FIN_WAIT_2
        tcp_closed(st, t, 0)
        return
    if t.t_rexmt and t.t_rexmt <= now:
        tcp_loss_timer_fired(st, t)     # RTO, tail-loss probe or RACK (tcp/rack.pxi)
        if t.state == CLOSED:
            return
    if t.t_persist and t.t_persist <= now:
        tcp_persist_fired(st, t)
    if t.t_keep and t.t_keep <= now:
        tcp_keepalive_fired(st, t)
        if t.state == CLOSED:
            return
    if t.t_delack and t.t_delack <= now:
        t.t_delack = 0
        t.flags &= ~TF_DELACK
        t.flags |= TF_ACK_NOW
        tcp_schedule(st, t)
    timer_rearm(st, t)
