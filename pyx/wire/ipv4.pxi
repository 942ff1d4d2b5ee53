# IPv4 (RFC 791), ICMP (RFC 792) and UDP (RFC 768): parse and emit.

cdef inline int ipv4_parse(uint8_t *p, uint32_t n, Ipv4Hdr *h, bint verify_csum) noexcept nogil:
    """Trailing bytes beyond total_len (Ethernet padding) are ignored."""
    cdef uint32_t hl, tl
    cdef uint16_t ff
    if n < IPV4_HLEN:
        return ERR_IP_SHORT
    if (p[0] >> 4) != 4:
        return ERR_IP_VERSION
    hl = (p[0] & 0x0f) * 4
    if hl < IPV4_HLEN or hl > n:
        return ERR_IP_HLEN
    tl = rd16(p + 2)
    if tl < hl or tl > n:
        return ERR_IP_TOTLEN
    if verify_csum and nc_csum_fold(nc_csum_partial(p, hl, 0)) != 0:
        return ERR_IP_CSUM
    h.hdr = p
    h.hdr_len = hl
    h.total_len = tl
    h.tos = p[1]
    h.ident = rd16(p + 4)
    ff = rd16(p + 6)
    h.dont_frag = (ff & IP_DF) != 0
    h.more_frags = (ff & IP_MF) != 0
    h.frag_off = <uint16_t>((ff & IP_OFFMASK) * 8)
    h.ttl = p[8]
    h.proto = p[9]
    h.src = rd32(p + 12)
    h.dst = rd32(p + 16)
    h.payload = p + hl
    h.payload_len = tl - hl
    if h.more_frags or h.frag_off:
        return ERR_IP_FRAGMENT
    return WIRE_OK


cdef inline uint32_t ipv4_write(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
                                uint8_t ttl, uint16_t ident, uint32_t payload_len,
                                bint dont_frag) noexcept nogil:
    """Write a 20-byte header with its checksum; returns 20."""
    p[0] = 0x45
    p[1] = 0
    wr16(p + 2, <uint16_t>(IPV4_HLEN + payload_len))
    wr16(p + 4, ident)
    wr16(p + 6, IP_DF if dont_frag else 0)
    p[8] = ttl
    p[9] = proto
    p[10] = 0
    p[11] = 0
    wr32(p + 12, src)
    wr32(p + 16, dst)
    store_csum(p + 10, nc_csum_fold(nc_csum_partial(p, IPV4_HLEN, 0)))
    return IPV4_HLEN


# ---- ICMP -------------------------------------------------------------------

cdef inline int icmp_parse(uint8_t *p, uint32_t n, IcmpHdr *h, bint verify_csum) noexcept nogil:
    if n < ICMP_HLEN:
        return ERR_ICMP_SHORT
    if verify_csum and nc_csum_fold(nc_csum_partial(p, n, 0)) != 0:
        return ERR_ICMP_CSUM
    h.type = p[0]
    h.code = p[1]
    h.ident = rd16(p + 4)
    h.seq = rd16(p + 6)
    h.rest = rd32(p + 4)
    h.body = p + ICMP_HLEN
    h.body_len = n - ICMP_HLEN
    return WIRE_OK


cdef inline uint32_t icmp_write_header(uint8_t *p, uint8_t type, uint8_t code,
                                       uint32_t rest) noexcept nogil:
    p[0] = type
    p[1] = code
    p[2] = 0
    p[3] = 0
    wr32(p + 4, rest)
    return ICMP_HLEN


cdef inline void icmp_fill_checksum(uint8_t *p, uint32_t n) noexcept nogil:
    p[2] = 0
    p[3] = 0
    store_csum(p + 2, nc_csum_fold(nc_csum_partial(p, n, 0)))


# ---- UDP --------------------------------------------------------------------

cdef inline int udp_parse(uint8_t *p, uint32_t n, const uint8_t *ip_hdr, UdpHdr *h,
                          bint verify_csum) noexcept nogil:
    """n is the IP payload length; ip_hdr points at the IPv4 header (for the
    pseudo header: bytes 12..19 are source and destination)."""
    cdef uint16_t ulen
    if n < UDP_HLEN:
        return ERR_UDP_SHORT
    ulen = rd16(p + 4)
    if ulen < UDP_HLEN or ulen > n:
        return ERR_UDP_LEN
    # A zero checksum means the sender did not compute one (RFC 768).
    if verify_csum and (p[6] | p[7]) != 0:
        if nc_csum_fold(nc_csum_partial(p, ulen,
                nc_csum_pseudo_ipv4(ip_hdr + 12, IP_PROTO_UDP, ulen))) != 0:
            return ERR_UDP_CSUM
    h.sport = rd16(p)
    h.dport = rd16(p + 2)
    h.length = ulen
    h.payload = p + UDP_HLEN
    h.payload_len = ulen - UDP_HLEN
    return WIRE_OK


cdef inline uint32_t udp_write(uint8_t *p, uint16_t sport, uint16_t dport,
                               uint32_t payload_len, const uint8_t *ip_hdr) noexcept nogil:
    """Write the header and checksum; the payload must already follow it and
    ip_hdr must already hold source and destination."""
    cdef uint16_t ulen = <uint16_t>(UDP_HLEN + payload_len)
    cdef uint16_t c
    wr16(p, sport)
    wr16(p + 2, dport)
    wr16(p + 4, ulen)
    p[6] = 0
    p[7] = 0
    c = nc_csum_fold(nc_csum_partial(p, ulen, nc_csum_pseudo_ipv4(ip_hdr + 12, IP_PROTO_UDP, ulen)))
    if c == 0:
        c = 0xffff      # RFC 768: a computed zero is sent as all ones
    store_csum(p + 6, c)
    return UDP_HLEN
