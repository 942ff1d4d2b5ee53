cdef uint32_t tcp_rcv_space(const Tcb *t) noexcept nogil
cdef uint32_t tcp_window_to_advertise(const Tcb *t) noexcept nogil
cdef bint tcp_window_update_due(const Tcb *t) noexcept nogil
cdef uint32_t tcp_ts_clock(const Tcb *t, uint64_t now) noexcept nogil
cdef uint64_t tcp_backed_off_rto(const StackState *st, const Tcb *t) noexcept nogil
cdef void tcp_arm_rexmt(StackState *st, Tcb *t) noexcept nogil

cdef void tcp_syn_options(const StackState *st, TcpOptions *o, uint16_t mss, uint8_t wscale,
                          uint32_t offer) noexcept nogil

cdef bint tcp_emit(StackState *st, Tcb *t, uint32_t seq, uint8_t flags, uint64_t data_off,
                   uint32_t dlen) noexcept nogil
cdef bint tcp_emit_frame(StackState *st, Tcb *t, uint32_t seq, uint8_t flags, uint64_t data_off,
                         uint32_t dlen, uint32_t gso) noexcept nogil
cdef uint32_t tcp_tso_room(const StackState *st, const Tcb *t, uint32_t room) noexcept nogil

cdef void tcp_send_ack(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_send_rst(StackState *st, Tcb *t) noexcept nogil

cdef void tcp_reply_rst(StackState *st, const Ipv4Hdr *ip, const TcpHdr *th,
                        const uint8_t *src_mac) noexcept nogil

cdef void tcp_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef void tcp_output(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_send_keepalive(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_retransmit_first(StackState *st, Tcb *t) noexcept nogil

cdef bint tcp_reply_stateless(StackState *st, uint32_t laddr, uint32_t raddr,
                              const uint8_t *dst_mac, uint16_t lport, uint16_t rport,
                              uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
                              const TcpOptions *o) noexcept nogil
cdef bint tcp_send_new(StackState *st, Tcb *t, uint32_t limit) noexcept nogil
cdef uint32_t tcp_retransmit_range(StackState *st, Tcb *t, uint32_t seq, uint32_t maxlen) noexcept nogil
