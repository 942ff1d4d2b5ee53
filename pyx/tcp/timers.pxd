cdef void tcp_rto_fired(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_on_timer(StackState *st, Tcb *t, uint64_t now) noexcept nogil
