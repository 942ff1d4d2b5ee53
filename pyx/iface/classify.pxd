cdef void stack_rx_frame(StackState *st, uint32_t b) noexcept nogil
cdef bint buf_tcp(StackState *st, uint32_t b, TcpHdr *th) noexcept nogil
cdef bint stack_rx_tcp(StackState *st, uint32_t b, uint32_t l4_off, uint32_t l4_len,
                       uint32_t src, uint32_t dst, const uint8_t *src_mac,
                       const TcpHdr *th) noexcept nogil
