cdef enum:
    QUICKACK_SEGMENTS = 16      # ACK at once while the peer is likely in slow start

cdef void tcp_established(StackState *st, Tcb *t, const TcpHdr *th, bint rtt_sample) noexcept nogil
cdef bint tcp_process(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void tcp_process_text(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
