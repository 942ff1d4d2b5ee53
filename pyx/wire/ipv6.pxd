cdef struct Ipv6Hdr:
    uint8_t *hdr
    uint32_t total_len       # 40 + the header's payload length (Ethernet padding excluded)
    uint8_t tclass
    uint32_t flow            # the 20-bit flow label
    uint8_t hop_limit
    uint8_t proto            # the upper layer: the next header after the extension headers
    const uint8_t *src       # 16 bytes each, in the header
    const uint8_t *dst
    uint8_t *payload         # the upper-layer message (for a fragment: the fragment's data)
    uint32_t payload_len
    uint8_t n_ext            # extension headers walked
    # a fragment header (ipv6_parse returned ERR_IP6_FRAGMENT)
    uint32_t frag_ident
    uint16_t frag_off        # in bytes
    bint more_frags
    uint32_t unfrag_len      # bytes from hdr to the fragment header (RFC 8200 4.5)

cdef struct NdpMsg:
    uint8_t type             # ND_NEIGHBOR_SOLICIT or ND_NEIGHBOR_ADVERT
    uint8_t flags            # NA: ND_NA_ROUTER / SOLICITED / OVERRIDE
    const uint8_t *target    # 16 bytes
    const uint8_t *lladdr    # the source (NS) or target (NA) link-layer address option, or NULL

cdef int ipv6_parse(uint8_t *p, uint32_t n, Ipv6Hdr *h) noexcept nogil

cdef uint32_t ipv6_write(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                         uint8_t hop_limit, uint32_t flow, uint32_t payload_len) noexcept nogil

cdef bint ip6_is_multicast(const uint8_t *a) noexcept nogil
cdef bint ip6_is_unspecified(const uint8_t *a) noexcept nogil
cdef bint ip6_is_link_local(const uint8_t *a) noexcept nogil
cdef void ip6_solicited_node(uint8_t *out, const uint8_t *a) noexcept nogil
cdef void ip6_multicast_mac(uint8_t *mac, const uint8_t *group) noexcept nogil

cdef uint64_t ip6_pseudo(const uint8_t *ip6_hdr, uint8_t proto, uint32_t l4_len) noexcept nogil

cdef int icmp6_parse(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr, IcmpHdr *h,
                     bint verify_csum) noexcept nogil
cdef void icmp6_fill_checksum(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr) noexcept nogil

cdef int udp6_parse(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr, UdpHdr *h,
                    bint verify_csum) noexcept nogil
cdef uint32_t udp6_write(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t payload_len,
                         const uint8_t *ip6_hdr) noexcept nogil
cdef int tcp6_parse(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr, TcpHdr *h,
                    bint verify_csum) noexcept nogil
cdef void tcp6_fill_checksum(uint8_t *p, uint32_t seg_len, const uint8_t *ip6_hdr) noexcept nogil

cdef int ndp_parse(const Ipv6Hdr *ip, const IcmpHdr *ic, NdpMsg *m) noexcept nogil
cdef uint32_t ndp_write(uint8_t *p, uint8_t type, uint8_t flags, const uint8_t *target,
                        uint8_t opt_type, const uint8_t *lladdr) noexcept nogil
