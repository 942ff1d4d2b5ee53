# RACK-TLP (RFC 8985): time-based loss detection and tail-loss probes, on
# top of the RFC 6675 scoreboard (sack.pxi), which keeps doing the
# retransmitting (NextSeg, pipe). Stack(recovery="rack"), the default; with
# "rfc6675" (or without SACK) none of this runs.
#
# RACK's rule is "a segment is lost once a segment sent after it has been
# delivered and a reordering window has passed". The send window holds
# bytes, not segments with send times, so the rule is kept with sequence
# frontiers (first transmissions go out in sequence order):
#   - rack_fack: the highest delivered (SACKed) byte when a hole below it
#     was first seen; once the reordering window has passed since that ACK
#     (timer TK_REO), every unSACKed byte below rack_fack is lost
#     (rack_lost). Timing from the ACK rather than from the hole's send time
#     marks a little later than RFC 8985 would, never earlier.
#   - a retransmission is lost when data first sent after it (above
#     rack_rxt_hi, SND.MAX when it went) is delivered: HighRxt goes back to
#     SND.UNA, so NextSeg resends the holes again (RFC 8985 6.2 step 2 for
#     retransmitted segments).
# The reordering window (RFC 8985 6.2) is 0 until reordering is seen (a
# hole filled by the original, outside recovery), when in recovery or with more
# than DupThresh - 1 segments SACKed; else min_RTT / 4 * reo_mult, at most
# SRTT. Each recovery episode with a D-SACK raises reo_mult by one; after
# 16 recoveries without one it is 1 again.
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


cdef inline bint rack_on(const Tcb *t) noexcept nogil:
    return (t.rack_flags & RK_ON) != 0 and (t.flags & TF_SACK_OK) != 0


cdef void rack_init(StackState *st, Tcb *t) noexcept nogil:
    t.rack_flags = RK_ON if st.cfg.recovery == RECOVERY_RACK else 0
    t.rack_lost = t.snd_una
    t.rack_fack = t.snd_una
    t.rack_rxt_hi = t.snd_una
    t.min_rtt_us = NO_RTT
    t.reo_mult = 1
    t.reo_persist = 0


cdef inline void rack_rtt_sample(Tcb *t, uint64_t r) noexcept nogil:
    """min_RTT for the reordering window (the lowest sample of the
    connection: RFC 8985 suggests a windowed minimum)."""
    cdef uint64_t us = r // 1000
    if us < t.min_rtt_us:
        t.min_rtt_us = <uint32_t>us


cdef inline void rack_set_reordering(StackState *st, Tcb *t) noexcept nogil:
    if not (t.rack_flags & RK_REORDERING):
        t.rack_flags |= RK_REORDERING
        st.ctr[C_TCP_REORDERING_SEEN] += 1


cdef void rack_note_dsack(StackState *st, Tcb *t, uint32_t left, uint32_t right) noexcept nogil:
    """A D-SACK block (RFC 2883) arrived: something we retransmitted had
    arrived already (reordering, or a spurious timeout): widen the
    reordering window once per recovery episode (RFC 8985 6.2 step 4)."""
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


cdef void rack_check_reordering(StackState *st, Tcb *t, uint32_t ack) noexcept nogil:
    """Called before a cumulative ACK is applied: a hole that was never
    retransmitted and is now acknowledged arrived late, not lost."""
    cdef uint32_t start
    if (not rack_on(t) or t.sack_n == 0 or not seq_gt(ack, t.snd_una) or t.in_recovery or
            seq_lt(t.snd_una, t.recover)):
        return      # (in recovery, or resending after an RTO, a hole may have been resent)
    start = seq_max(t.snd_una, t.high_rxt)
    if seq_lt(start, t.rack_rxt_hi):
        return      # sent before the last retransmission: it may have been resent
    if seq_lt(start, t.sack_l[0]) and seq_gt(ack, start):
        rack_set_reordering(st, t)


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


cdef void rack_mark(StackState *st, Tcb *t, uint32_t upto) noexcept nogil:
    """Every unSACKed byte below `upto` is lost; count the segments newly marked."""
    cdef uint32_t a = t.rack_lost, i, b, lost = 0
    if not seq_gt(upto, a):
        return
    for i in range(t.sack_n + 1):
        b = t.sack_l[i] if i < t.sack_n else upto
        if seq_gt(b, upto):
            b = upto
        if seq_lt(a, b):
            lost += (b - a + t.mss - 1) // t.mss
        if i < t.sack_n and seq_gt(t.sack_r[i], a):
            a = t.sack_r[i]
        if not seq_lt(a, upto):
            break
    st.ctr[C_TCP_RACK_LOSSES] += lost
    t.rack_lost = upto


cdef void rack_detect(StackState *st, Tcb *t) noexcept nogil:
    """RFC 8985 6.2 RACK_detect_loss on an ACK (after the scoreboard took
    its SACK blocks)."""
    rack_detect_at(st, t, t.rexmt_kind == TK_REO and t.t_rexmt != 0 and t.t_rexmt <= st.now)


cdef void rack_detect_at(StackState *st, Tcb *t, bint window_passed) noexcept nogil:
    """RACK_detect_loss with frontiers (see the top of this file);
    window_passed: the reordering timer came."""
    cdef uint32_t hi
    cdef uint64_t reo
    if not rack_on(t):
        return
    if seq_lt(t.rack_lost, t.snd_una):
        t.rack_lost = t.snd_una
    if seq_lt(t.rack_fack, t.rack_lost):
        t.rack_fack = t.rack_lost
    if t.sack_n == 0:
        t.rack_fack = t.rack_lost       # nothing delivered above a hole
        if t.rexmt_kind == TK_REO:
            t.t_rexmt = 0               # (the caller arms the RTO or a probe)
        return
    hi = t.sack_r[t.sack_n - 1]
    reo = rack_reo_wnd(t)
    if t.rack_fack == t.rack_lost and seq_gt(hi, t.rack_lost):
        # a hole just appeared below delivered data: wait out the window
        t.rack_fack = hi
        if reo and reo != REO_UNKNOWN:
            t.t_rexmt = st.now + reo
            t.rexmt_kind = TK_REO
            timer_rearm(st, t)
            return
    if seq_gt(t.rack_fack, t.rack_lost) and (reo == 0 or window_passed):
        rack_mark(st, t, t.rack_fack)
        if reo == 0 and seq_gt(hi, t.rack_lost):
            rack_mark(st, t, hi)
        t.rack_fack = t.rack_lost
        if t.rexmt_kind == TK_REO:
            t.t_rexmt = 0
        if seq_gt(hi, t.rack_lost):
            t.rack_fack = hi        # delivered since the window began: its own window
    # a pending window always has its timer (a probe or the RTO may have
    # taken t_rexmt meanwhile)
    if seq_gt(t.rack_fack, t.rack_lost) and reo and reo != REO_UNKNOWN and not (
            t.rexmt_kind == TK_REO and t.t_rexmt):
        t.t_rexmt = st.now + reo
        t.rexmt_kind = TK_REO
        timer_rearm(st, t)
    # a retransmission is lost once data sent after it is delivered
    if t.rack_flags & RK_RXT and t.in_recovery and seq_gt(hi, t.rack_rxt_hi) and \
            seq_gt(t.high_rxt, t.snd_una):
        t.rack_flags &= ~RK_RXT
        if seq_lt(t.rack_lost, t.rack_rxt_hi):
            rack_mark(st, t, t.rack_rxt_hi)
        t.high_rxt = t.snd_una
        st.ctr[C_TCP_RACK_LOST_RETRANSMITS] += 1


cdef inline void rack_note_retransmit(Tcb *t) noexcept nogil:
    t.rack_rxt_hi = t.snd_max
    t.rack_flags |= RK_RXT


cdef inline void rack_recovery_ended(Tcb *t) noexcept nogil:
    """RFC 8985 6.2 step 4: reo_mult returns to 1 after 16 recoveries
    without a D-SACK."""
    if t.reo_persist:
        t.reo_persist -= 1
        if t.reo_persist == 0:
            t.reo_mult = 1


cdef inline bint rack_may_enter_recovery(const Tcb *t) noexcept nogil:
    return (not t.in_recovery and seq_gt(t.rack_lost, t.snd_una) and
            (seq_geq(t.snd_una, t.recover) or t.recover == t.iss))


cdef void rack_after_ack(StackState *st, Tcb *t, const TcpHdr *th, uint32_t old_una) noexcept nogil:
    """After an ACK was processed: enter recovery for what RACK marked lost,
    end the tail-loss probe's episode (RFC 8985 7.4), arm the timer."""
    if not rack_on(t):
        return
    if rack_may_enter_recovery(t):
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
    rack_detect_at(st, t, True)         # (may start the next window's timer)
    if rack_may_enter_recovery(t):
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
        t.rack_flags &= ~(RK_TLP | RK_TLP_RXT | RK_TLP_DSACK | RK_RXT)
        tcp_rto_fired(st, t)
        t.rack_lost = t.snd_una
        t.rack_fack = t.snd_una
