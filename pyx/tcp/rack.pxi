# RACK-TLP (RFC 8985): time-based loss detection and tail-loss probes, on
# top of the RFC 6675 scoreboard (sack.pxi), which keeps the SACKed ranges
# and drives the retransmitting (NextSeg, pipe). Stack(recovery="rack"), the
# default; with "rfc6675" (or without SACK) none of this runs.
#
# RACK's rule is "a segment is lost once a segment sent after it has been
# delivered and a reordering window has passed". Send times are kept per
# run of segments in a ring beside the send window (tcp/segring.pxi), with
# RACK's own state (RACK.xmit_ts, .end_seq, .rtt, .fack):
#   - rack_update (RFC 8985 6.2 steps 1-3), on every ACK before SND.UNA
#     moves: each newly delivered run (cumulatively ACKed or SACKed) whose
#     send time is later than RACK.xmit_ts becomes RACK's reference —
#     unless it was retransmitted less than min_RTT ago (the ACK is then for
#     the original copy; its retransmission's time would mark the runs sent
#     in between lost too early). A run delivered below RACK.fack that was
#     never retransmitted arrived late: reordering.
#   - rack_detect (6.2 step 5): every undelivered run sent before RACK's
#     reference is lost once RACK.rtt + the reordering window has passed
#     since its own send time; the earliest one still waiting sets the
#     reordering timer (TK_REO). A retransmitted run is judged on its
#     retransmission's time, so a lost retransmission is found the same way.
#   - NextSeg sends the runs marked lost, lowest first; the pipe leaves them
#     out until they are resent (sack.pxi).
# The reordering window (RFC 8985 6.2) is 0 until reordering is seen, when in
# recovery or with more than DupThresh - 1 segments SACKed; else min_RTT / 4 *
# reo_mult, at most SRTT. Each recovery episode with a D-SACK raises
# reo_mult by one; after 16 recoveries without one it is 1 again. min_RTT is
# a windowed minimum: a sample older than MIN_RTT_WLEN (Linux's
# tcp_min_rtt_wlen, 300 s) gives way to the next one.
#
# Tail-loss probe (RFC 8985 7): with data in flight and no recovery under
# way, the timer is the probe timeout PTO = 2 SRTT + 2 ms (+ 200 ms instead
# when one segment is in flight: the peer may be holding a delayed ACK; as
# Linux), at most the RTO. When it fires, one new segment goes out if the windows allow, else
# the last segment sent again; its ACK (or SACK) lets fast recovery or RACK
# repair the tail instead of waiting for the RTO. A probe that was a
# retransmission and is acknowledged without a D-SACK had repaired a loss:
# the congestion window is reduced as for any loss (RFC 8985 7.4.2).

RECOVERY_NAMES = ("rfc6675", "rack")       # indexed by RECOVERY_RFC6675, RECOVERY_RACK

cdef uint64_t WCDELACK_NS = 200000000ULL    # RFC 8985 7.2: worst-case delayed ACK
cdef uint64_t PTO_EXTRA_NS = 2000000ULL     # with more than one segment out (Linux: TCP_TIMEOUT_MIN)
cdef uint32_t NO_RTT = 0xFFFFFFFF
cdef uint8_t REO_PERSIST = 16               # RFC 8985 6.2
cdef uint64_t REO_UNKNOWN = 0xFFFFFFFFFFFFFFFFULL
cdef uint32_t MIN_RTT_WLEN = 286102         # 300 s in the 2^20 ns units of Tcb.min_rtt_at


cdef inline bint rack_on(const Tcb *t) noexcept nogil:
    return (t.rack_flags & RK_ON) != 0 and (t.flags & TF_SACK_OK) != 0


cdef void rack_init(StackState *st, Tcb *t) noexcept nogil:
    t.rack_flags = RK_ON if st.cfg.recovery == RECOVERY_RACK else 0
    t.min_rtt_us = NO_RTT
    t.min_rtt_at = 0
    t.reo_mult = 1
    t.reo_persist = 0


cdef inline void rack_rtt_sample(StackState *st, Tcb *t, uint64_t r) noexcept nogil:
    """min_RTT for the reordering window: the lowest sample of the last
    MIN_RTT_WLEN (RFC 8985 6.2 asks for a windowed minimum, so that a path
    that got longer is not judged by an RTT it no longer has). An expired
    minimum gives way to the next sample."""
    cdef uint64_t us = r // 1000
    cdef uint32_t stamp = <uint32_t>(st.now >> 20)
    if us >= NO_RTT:
        us = NO_RTT - 1
    if us <= t.min_rtt_us or stamp - t.min_rtt_at >= MIN_RTT_WLEN:
        t.min_rtt_us = <uint32_t>us
        t.min_rtt_at = stamp


cdef inline void rack_set_reordering(StackState *st, Tcb *t) noexcept nogil:
    if not (t.rack_flags & RK_REORDERING):
        t.rack_flags |= RK_REORDERING
        st.ctr[C_TCP_REORDERING_SEEN] += 1


cdef void rack_note_dsack(StackState *st, Tcb *t, uint32_t left, uint32_t right) noexcept nogil:
    """A D-SACK block (RFC 2883) arrived: something we retransmitted had
    arrived already (reordering, or a spurious timeout): widen the
    reordering window once per recovery episode (RFC 8985 6.2 step 4).
    Unless it reports the tail-loss probe, it is also taken as reordering
    seen: the retransmission was needless because the original was late,
    which RACK's own detection (a never-resent segment delivered below
    RACK.fack) cannot see once the segment was resent; without it a fresh
    connection keeps the zero window of RFC 8985 6.2 and resends every late
    segment again."""
    st.ctr[C_TCP_DSACK_RCVD] += 1
    if not rack_on(t):
        return
    if not (t.rack_flags & RK_DSACK_ROUND):
        t.rack_flags |= RK_DSACK_ROUND
        if t.reo_mult < 255:
            t.reo_mult += 1
        t.reo_persist = REO_PERSIST
    if t.rack_flags & RK_TLP_RXT and seq_leq(right, t.tlp_end) and seq_gt(right, t.tlp_end - t.mss - 1):
        t.rack_flags |= RK_TLP_DSACK
    else:
        rack_set_reordering(st, t)


cdef inline bint rack_sent_after(uint32_t t1, uint32_t seq1, uint32_t t2, uint32_t seq2) noexcept nogil:
    """RFC 8985 6.2 RACK_sent_after: sent later, or at the same time and
    higher (within one run; runs have distinct send stamps, seg_stamp)."""
    return <int32_t>(t1 - t2) > 0 or (t1 == t2 and seq_gt(seq1, seq2))


cdef void rack_update(StackState *st, Tcb *t, uint32_t ack) noexcept nogil:
    """RFC 8985 6.2 steps 1-3 for an ACK whose SACK blocks are in the
    scoreboard, before SND.UNA moves to `ack`: the runs it delivers update
    RACK's reference (xmit_ts, end_seq, rtt) and reveal reordering."""
    cdef SegRing *g = seg_ring(st, t)
    cdef uint32_t i, k, start, end, now
    cdef uint8_t f
    cdef bint delivered
    if g == NULL or g.n == 0:
        return
    seg_trim(g, t.snd_una)
    # split runs at the edges of what this ACK delivers
    if seq_gt(ack, t.snd_una):
        seg_make_room(g, 1)
        seg_split(g, t.snd_una, ack)
    for k in range(t.sack_n):
        seg_make_room(g, 2)
        seg_split(g, t.snd_una, t.sack_l[k])
        seg_split(g, t.snd_una, t.sack_r[k])
    now = seg_now_us(st)
    start = t.snd_una
    k = 0
    for i in range(g.n):
        end = g.r[i].end
        f = g.flags[i]
        delivered = False
        if f & SR_SACKED:
            pass                                # (counted when SACKed)
        elif seq_leq(end, ack):
            delivered = True
        else:
            while k < t.sack_n and seq_leq(t.sack_r[k], start):
                k += 1
            if k < t.sack_n and seq_leq(t.sack_l[k], start) and seq_leq(end, t.sack_r[k]):
                delivered = True
                g.flags[i] = f | SR_SACKED
        if delivered:
            if not (f & SR_RXT and t.min_rtt_us != NO_RTT and
                    seg_age_us(now, g.r[i].xmit_us) < t.min_rtt_us):
                if not g.has_rack or rack_sent_after(g.r[i].xmit_us, end, g.rack_xmit_us, g.rack_end):
                    g.rack_xmit_us = g.r[i].xmit_us
                    g.rack_end = end
                    g.rack_rtt_us = seg_age_us(now, g.r[i].xmit_us)
                    g.has_rack = 1
            if not g.has_rack or seq_gt(end, g.rack_fack):
                g.rack_fack = end
            elif seq_lt(end, g.rack_fack) and not (f & SR_RXT):
                rack_set_reordering(st, t)      # delivered below RACK.fack, never resent
        start = end
    seg_trim(g, ack)


cdef inline uint32_t rack_sacked_bytes(const Tcb *t) noexcept nogil:
    cdef uint32_t i, n = 0
    for i in range(t.sack_n):
        n += t.sack_r[i] - t.sack_l[i]
    return n


cdef uint64_t rack_reo_wnd(const Tcb *t) noexcept nogil:
    """RFC 8985 6.2 RACK_update_reo_wnd / the window it returns."""
    cdef uint64_t w
    if not (t.rack_flags & RK_REORDERING) and (
            t.in_recovery or rack_sacked_bytes(t) > (DUPTHRESH - 1) * <uint32_t>t.mss):
        return 0
    if t.min_rtt_us == NO_RTT or t.srtt == 0:
        return REO_UNKNOWN          # no RTT yet: only the DupThresh case marks
    w = <uint64_t>t.min_rtt_us * 1000 // 4 * t.reo_mult
    if t.srtt and w > t.srtt:
        w = t.srtt
    return w


cdef void rack_detect(StackState *st, Tcb *t) noexcept nogil:
    """RFC 8985 6.2 RACK_detect_loss, on an ACK and when the reordering
    timer fires: mark the runs RACK deems lost, time the earliest still
    inside the window."""
    cdef SegRing *g = seg_ring(st, t)
    cdef uint64_t reo
    cdef int64_t remaining, wait = 0
    cdef uint32_t i, start, now, lost = 0, lost_rxt = 0
    cdef uint8_t f
    if g == NULL or not g.has_rack:
        if t.rexmt_kind == TK_REO:
            t.t_rexmt = 0               # (the caller arms the RTO or a probe)
        return
    reo = rack_reo_wnd(t)
    if reo == REO_UNKNOWN:
        return
    now = seg_now_us(st)
    start = t.snd_una
    for i in range(g.n):
        f = g.flags[i]
        if not (f & (SR_SACKED | SR_LOST)) and seq_gt(g.r[i].end, start) and rack_sent_after(
                g.rack_xmit_us, g.rack_end, g.r[i].xmit_us, g.r[i].end):
            remaining = <int64_t>g.rack_rtt_us + <int64_t>(reo // 1000) - \
                <int64_t>seg_age_us(now, g.r[i].xmit_us)
            if remaining <= 0:
                g.flags[i] = f | SR_LOST
                lost += (g.r[i].end - start + t.mss - 1) // t.mss
                if f & SR_RXT:
                    lost_rxt += 1
            elif remaining > wait:
                wait = remaining
        start = g.r[i].end
    st.ctr[C_TCP_RACK_LOSSES] += lost
    st.ctr[C_TCP_RACK_LOST_RETRANSMITS] += lost_rxt
    if wait:
        # (rounded up to the next µs, so that it has passed when the timer fires)
        t.t_rexmt = (st.now // 1000 + <uint64_t>wait + 1) * 1000
        t.rexmt_kind = TK_REO
        timer_rearm(st, t)
    elif t.rexmt_kind == TK_REO:
        t.t_rexmt = 0


cdef inline void rack_note_retransmit(StackState *st, Tcb *t, uint32_t seq, uint32_t n) noexcept nogil:
    seg_sent(st, t, seq, n, True)


cdef inline void rack_recovery_ended(Tcb *t) noexcept nogil:
    """RFC 8985 6.2 step 4: reo_mult returns to 1 after 16 recoveries
    without a D-SACK (an episode that had one, often on the very ACK that
    ends it, is not one of them: the RFC's "else")."""
    if t.reo_persist and not (t.rack_flags & RK_DSACK_ROUND):
        t.reo_persist -= 1
        if t.reo_persist == 0:
            t.reo_mult = 1


cdef inline bint rack_may_enter_recovery(StackState *st, const Tcb *t) noexcept nogil:
    return (not t.in_recovery and (seq_geq(t.snd_una, t.recover) or t.recover == t.iss) and
            seg_any_lost(st, t))


cdef void rack_after_ack(StackState *st, Tcb *t, const TcpHdr *th, uint32_t old_una) noexcept nogil:
    """After an ACK was processed: enter recovery for what RACK marked lost,
    end the tail-loss probe's episode (RFC 8985 7.4), arm the timer."""
    if not rack_on(t):
        return
    if rack_may_enter_recovery(st, t):
        tcp_enter_recovery(st, t)           # tcp_send_owed resends SND.UNA
        t.rack_flags &= ~RK_DSACK_ROUND
    if t.rack_flags & RK_TLP:
        if t.in_recovery or seq_lt(th.ack, t.tlp_end):
            if t.in_recovery:
                t.rack_flags &= ~(RK_TLP | RK_TLP_RXT | RK_TLP_DSACK)
        elif not (t.rack_flags & RK_TLP_RXT) or t.rack_flags & RK_TLP_DSACK:
            t.rack_flags &= ~(RK_TLP | RK_TLP_RXT | RK_TLP_DSACK)   # no loss
        elif seq_gt(th.ack, t.tlp_end):
            # the probe repaired a loss: the same response as to any loss
            t.rack_flags &= ~(RK_TLP | RK_TLP_RXT | RK_TLP_DSACK)
            cc_on_congestion(st, t)
            t.cwnd = t.ssthresh
            st.ctr[C_TCP_TLP_RECOVERIES] += 1
        elif th.ack == old_una:
            t.rack_flags &= ~(RK_TLP | RK_TLP_RXT | RK_TLP_DSACK)   # both copies arrived
    if t.snd_una != t.snd_max and t.t_rexmt == 0:
        tcp_arm_loss_timer(st, t)       # (a duplicate ACK does not restart a running RTO)
    timer_rearm(st, t)


cdef void tcp_arm_loss_timer(StackState *st, Tcb *t) noexcept nogil:
    """The one retransmission timer: the tail-loss probe timeout when one
    may be sent (RFC 8985 7.2), else the RTO. (The reordering timer is set
    by rack_detect and left alone here.)"""
    cdef uint64_t pto, rto
    cdef uint8_t s = t.state
    if t.rexmt_kind == TK_REO and t.t_rexmt and t.t_rexmt > st.now:
        return
    if (rack_on(t) and t.srtt and not t.in_recovery and not (t.rack_flags & RK_TLP) and
            t.retries == 0 and (seq_geq(t.snd_una, t.recover) or t.recover == t.iss) and
            (s == ESTABLISHED or s == CLOSE_WAIT or s == FIN_WAIT_1 or s == CLOSING or
             s == LAST_ACK)):
        # 2 SRTT and a margin: on a link with a microsecond RTT a bare 2 SRTT
        # probes before the peer has even been scheduled
        pto = 2 * t.srtt
        pto += WCDELACK_NS if t.snd_max - t.snd_una <= t.mss else PTO_EXTRA_NS
        rto = tcp_backed_off_rto(st, t)
        if pto > rto:
            pto = rto
        t.t_rexmt = st.now + pto
        t.rexmt_kind = TK_PTO
        return
    tcp_arm_rexmt(st, t)


cdef void tlp_fired(StackState *st, Tcb *t) noexcept nogil:
    """RFC 8985 7.3: send one probe, then the RTO."""
    cdef uint32_t data_end, n, span
    cdef bint rxt = False
    t.t_rexmt = 0
    if t.snd_una == t.snd_max:
        return
    if t.in_recovery:
        tcp_arm_rexmt(st, t)            # recovery began since it was armed: no probe
        return
    if not (t.snd_nxt == t.snd_max and tcp_send_new(st, t, t.mss)):
        data_end = t.snd_max - (1 if t.flags & TF_FIN_SENT else 0)
        n = data_end - t.snd_una
        if n > t.mss:
            n = t.mss
        span = tcp_retransmit_range(st, t, data_end - n, n)
        if span == 0:
            tcp_arm_rexmt(st, t)
            return
        rxt = True
    st.ctr[C_TCP_TLP_PROBES] += 1
    t.tlp_end = t.snd_max
    t.rack_flags &= ~(RK_TLP_RXT | RK_TLP_DSACK)
    t.rack_flags |= RK_TLP | (RK_TLP_RXT if rxt else 0)
    t.rtt_start = 0
    tcp_arm_rexmt(st, t)


cdef void rack_reo_fired(StackState *st, Tcb *t) noexcept nogil:
    """The reordering window passed: mark, and start recovery at once."""
    t.t_rexmt = 0
    rack_detect(st, t)                  # (may start the next window's timer)
    if rack_may_enter_recovery(st, t):
        tcp_enter_recovery(st, t)
        t.rack_flags &= ~(RK_DSACK_ROUND | RK_TLP | RK_TLP_RXT | RK_TLP_DSACK)
        t.flags &= ~TF_REXMT_FIRST
        tcp_retransmit_first(st, t)
    if t.snd_una != t.snd_max:
        tcp_arm_loss_timer(st, t)
    tcp_schedule(st, t)


cdef void tcp_loss_timer_fired(StackState *st, Tcb *t) noexcept nogil:
    """t_rexmt came: a tail-loss probe, the reordering window, or the RTO."""
    cdef uint8_t kind = t.rexmt_kind
    t.rexmt_kind = TK_RTO
    if kind == TK_PTO and rack_on(t):
        tlp_fired(st, t)
        tcp_schedule(st, t)
    elif kind == TK_REO and rack_on(t):
        rack_reo_fired(st, t)
    else:
        t.rack_flags &= ~(RK_TLP | RK_TLP_RXT | RK_TLP_DSACK)
        seg_forget_sacks(st, t)
        tcp_rto_fired(st, t)
