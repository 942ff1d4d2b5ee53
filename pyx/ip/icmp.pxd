cdef void icmp_echo_reply_in_place(StackState *st, uint32_t b, Ipv4Hdr *ip, IcmpHdr *ic,
                                   const uint8_t *src_mac) noexcept nogil

cdef void icmp_send_error(StackState *st, uint8_t type, uint8_t code, const Ipv4Hdr *ip) noexcept nogil

cdef void icmp_input_error(StackState *st, uint32_t src, const IcmpHdr *icmp) noexcept nogil
