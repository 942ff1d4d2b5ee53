cdef bint tcp_ooo_add(Tcb *t, uint64_t s, uint64_t e) noexcept nogil

cdef bint tcp_ooo_covers(const Tcb *t, uint64_t s, uint64_t e) noexcept nogil

cdef void tcp_receive_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
