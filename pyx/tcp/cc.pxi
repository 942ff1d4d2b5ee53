# Congestion control: the one interface every algorithm implements (CcOps),
# chosen per connection (Tcb.cc) with a per-stack default. The algorithms are
# one file each: cc_newreno.pxi (RFC 5681, RFC 6582), cc_cubic.pxi (RFC 9438).
#
# The loss-recovery machinery (fast retransmit, NewReno partial ACKs, SACK
# recovery, RTO) lives in ack.pxi/timers.pxi and asks an algorithm only two
# questions: how the window grows on an ACK in congestion avoidance
# (on_ack_ca; slow start is common to all, RFC 3465), and what ssthresh
# becomes at a congestion event (on_congestion). Windows are in bytes.

CC_NAMES = ("newreno", "cubic")             # indexed by CC_NEWRENO, CC_CUBIC


cdef CcOps CC_OPS[CC_COUNT]
CC_OPS[CC_NEWRENO].on_congestion = newreno_on_congestion
CC_OPS[CC_NEWRENO].on_ack_ca = newreno_on_ack_ca
CC_OPS[CC_CUBIC].on_congestion = cubic_on_congestion
CC_OPS[CC_CUBIC].on_ack_ca = cubic_on_ack_ca


cdef int cc_from_name(object name) except -1:
    try:
        return CC_NAMES.index(name)
    except ValueError:
        raise ValueError(f"cc={name!r}: choose one of {', '.join(CC_NAMES)}") from None


cdef void tcp_set_cc(Tcb *t, object name) except *:
    t.cc = <uint8_t>cc_from_name(name)
    t.cubic_epoch = 0


cdef inline uint32_t cc_flight_half(Tcb *t) noexcept nogil:
    """RFC 5681 (4): max(FlightSize / 2, 2 * SMSS)."""
    cdef uint32_t flight = t.snd_max - t.snd_una
    return flight // 2 if flight // 2 > 2 * t.mss else 2 * t.mss


cdef void cc_on_congestion(StackState *st, Tcb *t) noexcept nogil:
    """A loss was detected (fast retransmit, SACK loss, or RTO): the
    connection's algorithm sets ssthresh."""
    CC_OPS[t.cc].on_congestion(st, t)


cdef void cc_on_ack(StackState *st, Tcb *t, uint32_t acked) noexcept nogil:
    """Grow cwnd for `acked` newly acknowledged bytes outside loss recovery."""
    if acked == 0:
        return
    if t.cwnd < t.ssthresh:
        # slow start with appropriate byte counting (RFC 3465, L = 2 SMSS),
        # slowed by HyStart++ once the RTT rises (tcp/hystart.pxi)
        t.cwnd += hystart_slow_start(st, t, acked if acked < 2 * t.mss else 2 * t.mss)
        return
    CC_OPS[t.cc].on_ack_ca(st, t, acked)


cdef void cc_after_recovery(StackState *st, Tcb *t) noexcept nogil:
    """Loss recovery ended with a full ACK (RFC 6582 3.2 step 3):
    cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)."""
    cdef uint32_t flight = t.snd_max - t.snd_una
    if flight < t.mss:
        flight = t.mss
    t.cwnd = t.ssthresh if t.ssthresh < flight + t.mss else flight + t.mss
    if t.cwnd < t.mss:
        t.cwnd = t.mss
    t.cubic_epoch = 0


cdef void cc_on_rto(StackState *st, Tcb *t) noexcept nogil:
    """RFC 5681 3.1 (7) / RFC 9438 4.8: the loss window is one segment."""
    cc_on_congestion(st, t)
    t.cwnd = t.mss
