cdef struct Ipv4Hdr:
    uint8_t *hdr
    uint32_t hdr_len
    uint32_t total_len
    uint8_t tos
    uint8_t ttl
    uint8_t proto
    uint16_t ident
    uint16_t frag_off        # in bytes
    bint more_frags
    bint dont_frag
    uint32_t src
    uint32_t dst
    uint8_t *payload
    uint32_t payload_len

cdef struct IcmpHdr:
    uint8_t type
    uint8_t code
    uint16_t ident           # echo only
    uint16_t seq             # echo only
    uint32_t rest            # bytes 4..7 as one word (e.g. next-hop MTU in its low 16 bits)
    uint8_t *body            # after the 8-byte header
    uint32_t body_len

cdef struct UdpHdr:
    uint16_t sport
    uint16_t dport
    uint16_t length
    uint8_t *payload
    uint32_t payload_len

cdef int ipv4_parse(uint8_t *p, uint32_t n, Ipv4Hdr *h, bint verify_csum) noexcept nogil

cdef uint32_t ipv4_write(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
                                uint8_t ttl, uint16_t ident, uint32_t payload_len,
                                bint dont_frag) noexcept nogil

cdef int icmp_parse(uint8_t *p, uint32_t n, IcmpHdr *h, bint verify_csum) noexcept nogil

cdef uint32_t icmp_write_header(uint8_t *p, uint8_t type, uint8_t code,
                                       uint32_t rest) noexcept nogil

cdef void icmp_fill_checksum(uint8_t *p, uint32_t n) noexcept nogil

cdef int udp_parse(uint8_t *p, uint32_t n, const uint8_t *ip_hdr, UdpHdr *h,
                          bint verify_csum) noexcept nogil

cdef uint32_t udp_write(uint8_t *p, uint16_t sport, uint16_t dport,
                               uint32_t payload_len, const uint8_t *ip_hdr) noexcept nogil
