cdef enum:
    CC_NEWRENO = 0
    CC_CUBIC = 1

cdef int cc_from_name(object name) except -1
cdef void tcp_set_cc(Tcb *t, object name) except *
cdef void cc_on_congestion(StackState *st, Tcb *t) noexcept nogil
cdef void cc_on_ack(StackState *st, Tcb *t, uint32_t acked) noexcept nogil
cdef void cc_after_recovery(StackState *st, Tcb *t) noexcept nogil
cdef void cc_on_rto(StackState *st, Tcb *t) noexcept nogil
