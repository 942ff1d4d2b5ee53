cdef void tcp_icmp_unreach(StackState *st, const IcmpQuote *q) noexcept nogil
