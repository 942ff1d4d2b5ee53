cdef void ecn_init(Tcb *t) noexcept nogil
cdef void ecn_syn_received(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_syn_ack_received(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_ack(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_output(StackState *st, Tcb *t, uint8_t *iph, uint8_t *th, uint32_t seq,
                     uint8_t flags, uint32_t dlen) noexcept nogil
