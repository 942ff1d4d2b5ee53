cdef void icmp_echo_reply_in_place(StackState *st, uint32_t b, Ipv4Hdr *ip, IcmpHdr *ic,
                                   const uint8_t *src_mac) noexcept nogil

cdef void icmp_send_error(StackState *st, uint8_t type, uint8_t code, const Ipv4Hdr *ip) noexcept nogil

cdef struct IcmpQuote:          # what an ICMP error says about one of our TCP segments
    uint8_t code
    uint16_t mtu                # next-hop MTU (code 4), else 0
    uint32_t laddr              # as TCP keeps it (IPv6: our address's index)
    uint32_t raddr
    uint16_t lport
    uint16_t rport
    uint32_t seq

cdef bint icmp_quoted_tcp(StackState *st, const IcmpHdr *icmp, IcmpQuote *q) noexcept nogil
