cdef void icmp6_echo_reply_in_place(StackState *st, uint32_t b, const Ipv6Hdr *ip,
                                    const uint8_t *src_mac) noexcept nogil
cdef void icmp6_send_error(StackState *st, uint8_t type, uint8_t code, uint32_t rest,
                           const Ipv6Hdr *ip) noexcept nogil
cdef bint icmp6_quoted_tcp(StackState *st, const IcmpHdr *ic, IcmpQuote *q) noexcept nogil
