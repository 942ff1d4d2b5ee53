cdef void stack_rx_frame(StackState *st, uint32_t b) noexcept nogil
cdef bint buf_tcp(StackState *st, uint32_t b, TcpHdr *th) noexcept nogil
