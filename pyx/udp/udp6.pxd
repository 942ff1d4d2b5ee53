cdef int udp6_send(StackState *st, uint16_t sport, const uint8_t *dst, uint16_t dport,
                   const uint8_t *data, uint32_t n, bint dont_frag) noexcept nogil
