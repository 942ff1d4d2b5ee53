cdef void cubic_on_congestion(StackState *st, Tcb *t) noexcept nogil
cdef void cubic_on_ack_ca(StackState *st, Tcb *t, uint32_t acked) noexcept nogil
