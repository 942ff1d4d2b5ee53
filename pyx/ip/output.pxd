cdef uint8_t *frame_start_ip(StackState *st, nc_buf *nb) noexcept nogil
cdef uint16_t next_ip_ident(StackState *st) noexcept nogil

cdef int ip_output(StackState *st, uint8_t proto, uint32_t src, uint32_t dst,
                   const uint8_t *payload, uint32_t n, bint dont_frag) noexcept nogil
