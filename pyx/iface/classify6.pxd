cdef void stack_rx_ipv6(StackState *st, uint32_t b, const EthHdr *eth, bint verify) noexcept nogil
