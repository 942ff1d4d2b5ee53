# Acknowledgements arriving: RTT samples (RFC 6298), new data acknowledged
# (send window, congestion control, NewReno partial ACKs), duplicate ACKs and
# the entry into fast recovery (RFC 5681, RFC 6675). State changes only: what
# must be sent is left to output (TF_REXMT_FIRST).

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
    rack_rtt_sample(st, t, r)
    hystart_rtt_sample(t, r)
    k = 4 * t.rttvar
    if k < st.tick_ns:
        k = st.tick_ns
    t.rto = t.srtt + k
    if t.rto < st.cfg.rto_min_ns:
        t.rto = st.cfg.rto_min_ns
    if t.rto > st.cfg.rto_max_ns:
        t.rto = st.cfg.rto_max_ns


cdef void tcp_enter_recovery(StackState *st, Tcb *t) noexcept nogil:
    """Fast retransmit (RFC 5681 3.2, RFC 6582 3.2, RFC 6675 5 step 4)."""
    t.recover = t.snd_max
    cc_on_congestion(st, t)
    t.rtt_start = 0                      # Karn
    t.lt_allow = 0
    t.high_rxt = t.snd_una
    t.rack_flags &= ~RK_DSACK_ROUND      # a new episode for reo_mult (tcp/rack.pxi)
    if t.flags & TF_SACK_OK:
        t.in_recovery = REC_SACK
        t.cwnd = t.ssthresh
        if prr_on(t):
            prr_start(st, t)            # PRR sets cwnd per ACK from here (tcp/prr.pxi)
    else:
        t.in_recovery = REC_NEWRENO
        t.cwnd = t.ssthresh + DUPTHRESH * t.mss
    st.ctr[C_TCP_FAST_RETRANSMITS] += 1
    t.flags |= TF_REXMT_FIRST            # tcp_send_owed resends it


cdef void tcp_ack_new_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """SND.UNA < SEG.ACK <= SND.MAX: release acknowledged bytes, take an RTT
    sample, grow the window or move loss recovery on."""
    cdef uint32_t acked = th.ack - t.snd_una
    cdef uint64_t new_head
    cdef uint32_t data_acked
    cdef uint64_t r
    # (the SYN's sequence number was taken by tcp_established: every byte
    # acked here is a window byte; SND.UNA == ISS again after 2^32 bytes
    # says nothing about the SYN)
    new_head = t.snd.head + acked
    if new_head > t.snd.tail:
        new_head = t.snd.tail                   # the FIN is acked too
    data_acked = <uint32_t>(new_head - t.snd.head)
    t.snd.head = new_head
    if data_acked and new_head == t.snd.tail:
        tcp_snd_idle(st, t)                     # all acknowledged: the slot goes back
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
    if t.pmtu_raise_s:
        tcp_pmtu_maybe_raise(st, t)         # RFC 1191 6.3 (tcp/icmp.pxi)
    if t.in_recovery:
        if seq_geq(th.ack, t.recover):
            t.in_recovery = REC_NONE
            t.dupacks = 0
            cc_after_recovery(st, t)
            rack_recovery_ended(t)
        elif t.in_recovery == REC_NEWRENO:
            # partial ACK (RFC 6582 3.2 step 5): the next hole is lost too
            t.flags |= TF_REXMT_FIRST        # tcp_send_owed resends it
            t.cwnd = t.cwnd - data_acked if t.cwnd > data_acked else 0
            if data_acked >= t.mss:
                t.cwnd += t.mss
            if t.cwnd < t.mss:
                t.cwnd = t.mss
        # REC_SACK: tcp_output sends NextSeg segments as the pipe allows
    else:
        t.dupacks = 0
        cc_on_ack(st, t, data_acked)
    # Marks that SND.UNA has passed mark nothing more; pulled along with it,
    # so that no mark falls 2^31 behind and reads as ahead again in modulo
    # 2^32 comparisons (a long flow would then never enter recovery, probe
    # a tail, or answer an ECE again)
    if not t.in_recovery and seq_gt(t.snd_una, t.recover):
        t.recover = t.snd_una
    if seq_gt(t.snd_una, t.ecn_recover):
        t.ecn_recover = t.snd_una
    # retransmission timer (RFC 6298 5.2, 5.3)
    if t.snd_una == t.snd_max:
        t.t_rexmt = 0
    else:
        tcp_arm_loss_timer(st, t)         # the RTO, or a tail-loss probe (tcp/rack.pxi)


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
    # (once reordering was seen, RACK's window decides, not the count)
    lost = t.dupacks >= DUPTHRESH and not (rack_on(t) and t.rack_flags & RK_REORDERING)
    if t.flags & TF_SACK_OK and not lost:
        lost = sack_is_lost(st, t, t.snd_una)
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
