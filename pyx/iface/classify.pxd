cdef void buf_note(nc_buf *nb, uint32_t l4_off, uint32_t l4_len, uint32_t src,
                          uint32_t dst, const uint8_t *src_mac) noexcept nogil

cdef void stack_drop(StackState *st, uint32_t b) noexcept nogil

cdef bint ip_is_ours(StackState *st, uint32_t dst) noexcept nogil

cdef bint ip_source_valid(uint32_t src) noexcept nogil

cdef void stack_rx_frame(StackState *st, uint32_t b) noexcept nogil

cdef bint buf_tcp(StackState *st, uint32_t b, TcpHdr *th) noexcept nogil
