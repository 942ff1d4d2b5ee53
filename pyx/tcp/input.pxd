
cdef enum:
    QUICKACK_SEGMENTS = 16      # ACK at once while the peer is likely in slow start

cdef void tcp_enter_time_wait(StackState *st, Tcb *t) noexcept nogil

cdef void tcp_fin_arrived(StackState *st, Tcb *t) noexcept nogil

cdef void tcp_challenge_ack(StackState *st, Tcb *t) noexcept nogil

cdef void tcp_established(StackState *st, Tcb *t) noexcept nogil

cdef void tcp_reply_rst_seq(StackState *st, Tcb *t, uint32_t seq) noexcept nogil

cdef void tcp_input_syn_sent(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil

cdef bint tcp_seq_acceptable(const Tcb *t, uint32_t seq, uint32_t seg_len) noexcept nogil

cdef bint tcp_paws_reject(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil

cdef void tcp_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
