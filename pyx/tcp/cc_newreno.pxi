# NewReno (RFC 5681, RFC 6582): halve at a loss, about one SMSS per RTT in
# congestion avoidance.

cdef void newreno_on_congestion(StackState *st, Tcb *t) noexcept nogil:
    t.ssthresh = cc_flight_half(t)


cdef void newreno_on_ack_ca(StackState *st, Tcb *t, uint32_t acked) noexcept nogil:
    """RFC 5681 3.1 with byte counting: cwnd += SMSS * acked / cwnd, at
    least one byte."""
    cdef uint32_t inc = <uint32_t>(<uint64_t>t.mss * acked // t.cwnd)
    t.cwnd += inc if inc else 1
