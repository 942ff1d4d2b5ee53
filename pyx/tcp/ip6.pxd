cdef uint32_t tcp_ip_hlen(uint32_t raddr) noexcept nogil
cdef uint8_t *tcp_frame_start(StackState *st, uint8_t *p, const uint8_t *dst_mac,
                              uint32_t raddr) noexcept nogil
cdef void tcp_ip_finish(StackState *st, uint8_t *iph, uint32_t laddr, uint32_t raddr,
                        uint16_t lport, uint16_t rport, uint32_t seg_len,
                        bint no_csum) noexcept nogil
cdef void tcp_ip_send_cached(StackState *st, uint32_t b, uint32_t raddr, uint8_t *mac,
                             uint32_t *mac_gen) noexcept nogil
cdef void tcp_ip_checksum(uint8_t *iph, uint32_t raddr, uint32_t seg_len) noexcept nogil
