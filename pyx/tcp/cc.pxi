# Congestion control: NewReno (RFC 5681, RFC 6582) and CUBIC (RFC 9438),
# chosen per connection (Tcb.cc) with a per-stack default.
#
# The loss-recovery machinery (fast retransmit, NewReno partial ACKs, SACK
# recovery, RTO) lives in tcp_input/tcp_timers and asks this file only two
# questions: how the window grows on an ACK outside recovery (cc_on_ack), and
# what ssthresh becomes at a congestion event (cc_on_congestion). Windows are
# in bytes; CUBIC's formulas are in segments, converted at the edges.

from libc.math cimport cbrt


CC_NAMES = ("newreno", "cubic")


cdef double CUBIC_C = 0.4           # RFC 9438 4.1: scaling constant (segments / s^3)
cdef double CUBIC_BETA = 0.7        # RFC 9438 4.6: multiplicative decrease


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
    """A loss was detected (fast retransmit, SACK loss, or RTO): set ssthresh
    and remember what CUBIC needs to grow back."""
    cdef double w
    if t.cc == CC_CUBIC:
        # RFC 9438 4.7 fast convergence: give up bandwidth faster when the
        # last reduction came before reaching the previous maximum.
        w = <double>t.cwnd
        if w < t.cubic_wmax:
            t.cubic_wmax = w * (1.0 + CUBIC_BETA) / 2.0
        else:
            t.cubic_wmax = w
        t.ssthresh = <uint32_t>(w * CUBIC_BETA)
        if t.ssthresh < 2 * t.mss:
            t.ssthresh = 2 * t.mss
        t.cubic_epoch = 0
    else:
        t.ssthresh = cc_flight_half(t)


cdef void cc_on_ack(StackState *st, Tcb *t, uint32_t acked) noexcept nogil:
    """Grow cwnd for `acked` newly acknowledged bytes outside loss recovery."""
    cdef double seg, t_s, target, w_est_inc, k, origin
    cdef uint32_t inc
    if acked == 0:
        return
    if t.cwnd < t.ssthresh:
        # slow start with appropriate byte counting (RFC 3465, L = 2 SMSS)
        t.cwnd += acked if acked < 2 * t.mss else 2 * t.mss
        return
    if t.cc == CC_CUBIC:
        seg = <double>t.mss
        if t.cubic_epoch == 0:
            # RFC 9438 4.2: a new congestion-avoidance epoch starts now
            t.cubic_epoch = st.now
            if t.cwnd < t.cubic_wmax:
                t.cubic_k = cbrt((t.cubic_wmax - t.cwnd) / seg / CUBIC_C)
                t.cubic_origin = t.cubic_wmax
            else:
                t.cubic_k = 0.0
                t.cubic_origin = t.cwnd
            t.cubic_west = t.cwnd
        t_s = <double>(st.now - t.cubic_epoch) / 1e9 + <double>t.srtt / 1e9
        k = t_s - t.cubic_k
        target = t.cubic_origin + CUBIC_C * k * k * k * seg
        # RFC 9438 4.3: the target stays within [cwnd, 1.5 cwnd]
        if target < t.cwnd:
            target = t.cwnd
        elif target > 1.5 * t.cwnd:
            target = 1.5 * t.cwnd
        # RFC 9438 4.3 Reno-friendly estimate: alpha = 3(1-beta)/(1+beta)
        # segments per RTT until W_est reaches W_max, then 1.
        if t.cubic_west < t.cubic_wmax:
            w_est_inc = 3.0 * (1.0 - CUBIC_BETA) / (1.0 + CUBIC_BETA)
        else:
            w_est_inc = 1.0
        t.cubic_west += w_est_inc * seg * acked / t.cwnd
        if t.cubic_west > target:
            # Reno-friendly region
            inc = <uint32_t>(t.cubic_west - t.cwnd) if t.cubic_west > t.cwnd else 0
        else:
            inc = <uint32_t>((target - t.cwnd) * acked / t.cwnd)
        t.cwnd += inc
        return
    # NewReno congestion avoidance: about one SMSS per RTT (RFC 5681 3.1,
    # byte counting: cwnd += SMSS * acked / cwnd, at least one byte)
    inc = <uint32_t>(<uint64_t>t.mss * acked // t.cwnd)
    t.cwnd += inc if inc else 1


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
