cdef uint32_t syncookie_hash(StackState *st, uint32_t laddr, uint32_t raddr,
                                    uint16_t lport, uint16_t rport, uint32_t irs,
                                    uint64_t count, uint32_t data) noexcept nogil

cdef uint32_t syncookie_make(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                             uint16_t rport, uint32_t irs, const TcpOptions *o) noexcept nogil

cdef bint syncookie_check(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                          uint16_t rport, uint32_t irs, uint32_t cookie) noexcept nogil

cdef void syncookie_reply(StackState *st, uint32_t src, uint32_t dst, const uint8_t *src_mac,
                          const TcpHdr *th) noexcept nogil

cdef Tcb *syncookie_accept(StackState *st, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, const TcpHdr *th) noexcept nogil
