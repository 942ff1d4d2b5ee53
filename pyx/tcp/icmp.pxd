cdef void tcp_icmp_unreach(StackState *st, const IcmpQuote *q) noexcept nogil
cdef void tcp_pmtu_maybe_raise(StackState *st, Tcb *t) noexcept nogil
