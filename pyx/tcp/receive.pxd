cdef void tcp_receive_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void tcp_syn_data_queue(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void tcp_syn_data_deliver(StackState *st, Tcb *t) noexcept nogil
