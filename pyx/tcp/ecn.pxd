cdef void ecn_init(Tcb *t) noexcept nogil
cdef void ecn_syn_received(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef bint ecn_cookie_offer(const StackState *st, const TcpHdr *th, bint timestamps) noexcept nogil
cdef uint32_t ecn_cookie_tsval(uint32_t ts, bint ecn) noexcept nogil
cdef void ecn_cookie_restore(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_syn_ack_received(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_ack(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void ecn_output(StackState *st, Tcb *t, uint8_t *iph, uint8_t *th, uint32_t seq,
                     uint8_t flags, uint32_t dlen) noexcept nogil
