cdef void tcp_receive_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
