cdef enum:
    INITIAL_SSTHRESH = 0x7fffffff   # "arbitrarily high" (RFC 5681 3.1)

cdef enum:
    CC_NEWRENO = 0
    CC_CUBIC = 1
    CC_COUNT = 2

cdef struct CcOps:              # what a congestion-control algorithm answers
    void (*on_congestion)(StackState *st, Tcb *t) noexcept nogil
    void (*on_ack_ca)(StackState *st, Tcb *t, uint32_t acked) noexcept nogil

cdef int cc_from_name(object name) except -1
cdef void tcp_set_cc(Tcb *t, object name) except *
cdef uint32_t cc_flight_half(Tcb *t) noexcept nogil
cdef void cc_on_congestion(StackState *st, Tcb *t) noexcept nogil
cdef void cc_on_ack(StackState *st, Tcb *t, uint32_t acked) noexcept nogil
cdef void cc_after_recovery(StackState *st, Tcb *t) noexcept nogil
cdef void cc_on_rto(StackState *st, Tcb *t) noexcept nogil
