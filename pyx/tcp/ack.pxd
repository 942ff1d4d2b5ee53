cdef void tcp_rtt_sample(StackState *st, Tcb *t, uint64_t r) noexcept nogil
cdef void tcp_ack_new_data(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void tcp_dup_ack(StackState *st, Tcb *t, uint32_t newly_sacked) noexcept nogil
cdef void tcp_enter_recovery(StackState *st, Tcb *t) noexcept nogil
