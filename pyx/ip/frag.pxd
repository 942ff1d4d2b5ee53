# IPv4 and IPv6 reassembly and reassembled UDP datagrams (ip/frag.pxi, ip/frag6.pxi; UDP's
# side queue is udp/udp.pxd's). Both families share the pool of datagram slots.

cdef struct FragDatagram:
    bint active
    uint8_t proto
    uint16_t ident
    uint32_t src
    uint32_t dst
    uint32_t total              # payload length once the last fragment came, else 0
    uint32_t received           # payload bytes held (no overlaps, so exact)
    uint64_t expires
    uint8_t src_mac[6]
    uint8_t ip_hdr[40]          # a header of the datagram (for checksums and ICMP; IPv6: the
                                # fixed header, whose addresses are the datagram's key)
    bint v6
    uint32_t ident6             # IPv6: the fragment header's identification
    uint8_t *data               # REASM_MAX bytes
    uint64_t *units             # REASM_UNITS bits

cdef int frag_init(StackState *st, uint32_t count) noexcept nogil
cdef void frag_destroy(StackState *st) noexcept nogil
cdef void frag_expire(StackState *st) noexcept nogil

cdef FragDatagram *ip_fragment_input(StackState *st, const Ipv4Hdr *ip,
                                     const uint8_t *src_mac) noexcept nogil

cdef void frag_release(StackState *st, FragDatagram *f) noexcept nogil
cdef FragDatagram *ip6_fragment_input(StackState *st, const Ipv6Hdr *ip,
                                      const uint8_t *src_mac) noexcept nogil
