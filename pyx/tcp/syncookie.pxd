cdef void syncookie_reply(StackState *st, uint32_t src, uint32_t dst, const uint8_t *src_mac,
                          const TcpHdr *th) noexcept nogil

cdef Tcb *syncookie_accept(StackState *st, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, const TcpHdr *th) noexcept nogil
