# IPv6 (RFC 8200), ICMPv6 (RFC 4443), neighbour discovery messages (RFC 4861)
# and the IPv6 pseudo-header checksums of UDP and TCP: parse and emit.
#
# The wire layer's rule holds here too: ipv6_parse checks every length once
# and walks the extension headers with a bound (IP6_MAX_EXT), so that a
# chain of any length costs at most that many steps; after WIRE_OK every
# pointer of the struct spans bytes that exist. Addresses stay 16-byte
# pointers into the header (no copy, no conversion).

cdef inline bint ip6_options_ok(const uint8_t *p, uint32_t n) noexcept nogil:
    """The TLV options of a hop-by-hop or destination options header (n bytes
    after its first two). An unknown option whose action bits say discard
    (RFC 8200 4.2: the top two bits not 00) refuses the packet; we send no
    parameter problem for it (counted, docs/ipv6.md)."""
    cdef uint32_t i = 0
    cdef uint8_t t
    while i < n:
        t = p[i]
        if t == 0:                      # Pad1
            i += 1
            continue
        if i + 2 > n or i + 2 + p[i + 1] > n:
            return False
        if t != 1 and (t >> 6) != 0:    # not PadN and not "skip if unknown"
            return False
        i += 2 + p[i + 1]
    return True


cdef inline int ipv6_parse(uint8_t *p, uint32_t n, Ipv6Hdr *h) noexcept nogil:
    """Trailing bytes beyond the payload length (Ethernet padding) are
    ignored. Returns ERR_IP6_FRAGMENT, with the fragment fields set, for a
    fragment (an atomic fragment, offset 0 and no more, is read through)."""
    cdef uint32_t end, off, elen, k
    cdef uint8_t nh
    cdef uint16_t fo
    if n < IPV6_HLEN:
        return ERR_IP6_SHORT
    if (p[0] >> 4) != 6:
        return ERR_IP6_VERSION
    end = IPV6_HLEN + rd16(p + 4)
    if end > n:
        return ERR_IP6_LEN
    h.hdr = p
    h.total_len = end
    h.tclass = <uint8_t>((rd16(p) >> 4) & 0xff)
    h.flow = rd32(p) & 0xfffff
    h.hop_limit = p[7]
    h.src = p + 8
    h.dst = p + 24
    h.n_ext = 0
    h.more_frags = False
    h.frag_off = 0
    h.frag_ident = 0
    h.unfrag_len = 0
    nh = p[6]
    off = IPV6_HLEN
    for k in range(IP6_MAX_EXT + 1):
        if nh == IP6_NH_HOPOPTS or nh == IP6_NH_ROUTING or nh == IP6_NH_DSTOPTS:
            if k == IP6_MAX_EXT or off + 8 > end:
                return ERR_IP6_EXT
            if nh == IP6_NH_HOPOPTS and off != IPV6_HLEN:
                return ERR_IP6_EXT          # RFC 8200 4.1: only right after the header
            elen = (<uint32_t>p[off + 1] + 1) * 8
            if off + elen > end:
                return ERR_IP6_EXT
            if nh == IP6_NH_ROUTING:
                if p[off + 3] != 0:
                    return ERR_IP6_ROUTING  # segments left: it wants a router
            elif not ip6_options_ok(p + off + 2, elen - 2):
                return ERR_IP6_OPTION
            h.n_ext += 1
            nh = p[off]
            off += elen
        elif nh == IP6_NH_FRAGMENT:
            if k == IP6_MAX_EXT or off + IP6_FRAG_HLEN > end:
                return ERR_IP6_EXT
            h.n_ext += 1
            fo = rd16(p + off + 2)
            if (fo & 0xfff9) == 0:
                # an atomic fragment (RFC 6946): a whole packet, read on
                nh = p[off]
                off += IP6_FRAG_HLEN
                continue
            h.proto = p[off]
            h.unfrag_len = off
            h.frag_off = fo & 0xfff8
            h.more_frags = (fo & 1) != 0
            h.frag_ident = rd32(p + off + 4)
            h.payload = p + off + IP6_FRAG_HLEN
            h.payload_len = end - off - IP6_FRAG_HLEN
            return ERR_IP6_FRAGMENT
        else:
            h.proto = nh
            h.payload = p + off
            h.payload_len = end - off
            return WIRE_OK
    return ERR_IP6_EXT


cdef inline uint32_t ipv6_write(uint8_t *p, const uint8_t *src, const uint8_t *dst,
                                uint8_t proto, uint8_t hop_limit, uint32_t flow,
                                uint32_t payload_len) noexcept nogil:
    """Write the 40-byte header (traffic class 0); returns 40. src and dst
    may point into this very header (a reply turned around in place)."""
    cdef uint8_t a[32]
    memcpy(a, src, 16)
    memcpy(a + 16, dst, 16)
    wr32(p, (<uint32_t>6 << 28) | (flow & 0xfffff))
    wr16(p + 4, <uint16_t>payload_len)
    p[6] = proto
    p[7] = hop_limit
    memcpy(p + 8, a, 32)
    return IPV6_HLEN


# ---- addresses ------------------------------------------------------------------

cdef inline bint ip6_is_multicast(const uint8_t *a) noexcept nogil:
    return a[0] == 0xff


cdef inline bint ip6_is_unspecified(const uint8_t *a) noexcept nogil:
    cdef int i
    for i in range(16):
        if a[i]:
            return False
    return True


cdef inline bint ip6_is_link_local(const uint8_t *a) noexcept nogil:
    return a[0] == 0xfe and (a[1] & 0xc0) == 0x80


cdef inline void ip6_solicited_node(uint8_t *out, const uint8_t *a) noexcept nogil:
    """ff02::1:ffXX:XXXX, the group NDP asks a's owner in (RFC 4291 2.7.1)."""
    memset(out, 0, 16)
    out[0] = 0xff
    out[1] = 0x02
    out[11] = 0x01
    out[12] = 0xff
    out[13] = a[13]
    out[14] = a[14]
    out[15] = a[15]


cdef inline void ip6_multicast_mac(uint8_t *mac, const uint8_t *group) noexcept nogil:
    """33:33 and the group's last 32 bits (RFC 2464 7)."""
    mac[0] = 0x33
    mac[1] = 0x33
    memcpy(mac + 2, group + 12, 4)


# ---- checksums with the pseudo header -------------------------------------------

cdef inline uint64_t ip6_pseudo(const uint8_t *ip6_hdr, uint8_t proto, uint32_t l4_len) noexcept nogil:
    return nc_csum_pseudo_ipv6(ip6_hdr + 8, proto, l4_len)


cdef inline int icmp6_parse(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr, IcmpHdr *h,
                            bint verify_csum) noexcept nogil:
    """The checksum covers the pseudo header (RFC 4443 2.3), unlike ICMPv4's."""
    if n < ICMP_HLEN:
        return ERR_ICMP6_SHORT
    if verify_csum and nc_csum_fold(nc_csum_partial(p, n,
            ip6_pseudo(ip6_hdr, IP_PROTO_ICMPV6, n))) != 0:
        return ERR_ICMP6_CSUM
    h.type = p[0]
    h.code = p[1]
    h.ident = rd16(p + 4)
    h.seq = rd16(p + 6)
    h.rest = rd32(p + 4)
    h.body = p + ICMP_HLEN
    h.body_len = n - ICMP_HLEN
    return WIRE_OK


cdef inline void icmp6_fill_checksum(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr) noexcept nogil:
    """ip6_hdr must already hold source and destination."""
    p[2] = 0
    p[3] = 0
    store_csum(p + 2, nc_csum_fold(nc_csum_partial(p, n, ip6_pseudo(ip6_hdr, IP_PROTO_ICMPV6, n))))


cdef inline int udp6_parse(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr, UdpHdr *h,
                           bint verify_csum) noexcept nogil:
    """As udp_parse, but the checksum is mandatory over IPv6 (RFC 8200 8.1):
    a zero one is refused."""
    cdef int rc = udp_parse(p, n, NULL, h, False)
    if rc != WIRE_OK:
        return rc
    if verify_csum and ((p[6] | p[7]) == 0 or nc_csum_fold(nc_csum_partial(p, h.length,
            ip6_pseudo(ip6_hdr, IP_PROTO_UDP, h.length))) != 0):
        return ERR_UDP_CSUM
    return WIRE_OK


cdef inline uint32_t udp6_write(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t payload_len,
                                const uint8_t *ip6_hdr) noexcept nogil:
    """The header and checksum; the payload must already follow it and
    ip6_hdr must already hold source and destination."""
    cdef uint32_t ulen = UDP_HLEN + payload_len
    cdef uint16_t c
    wr16(p, sport)
    wr16(p + 2, dport)
    wr16(p + 4, <uint16_t>ulen)
    p[6] = 0
    p[7] = 0
    c = nc_csum_fold(nc_csum_partial(p, ulen, ip6_pseudo(ip6_hdr, IP_PROTO_UDP, ulen)))
    if c == 0:
        c = 0xffff
    store_csum(p + 6, c)
    return UDP_HLEN


cdef inline int tcp6_parse(uint8_t *p, uint32_t n, const uint8_t *ip6_hdr, TcpHdr *h,
                           bint verify_csum) noexcept nogil:
    """tcp_parse with the IPv6 pseudo header; n is the whole segment."""
    if verify_csum and n >= TCP_HLEN and nc_csum_fold(nc_csum_partial(p, n,
            ip6_pseudo(ip6_hdr, IP_PROTO_TCP, n))) != 0:
        return ERR_TCP_CSUM
    return tcp_parse(p, n, NULL, h, False)


cdef inline void tcp6_fill_checksum(uint8_t *p, uint32_t seg_len, const uint8_t *ip6_hdr) noexcept nogil:
    p[16] = 0
    p[17] = 0
    store_csum(p + 16, nc_csum_fold(nc_csum_partial(p, seg_len,
                                                    ip6_pseudo(ip6_hdr, IP_PROTO_TCP, seg_len))))


# ---- neighbour discovery ----------------------------------------------------------

cdef inline int ndp_parse(const Ipv6Hdr *ip, const IcmpHdr *ic, NdpMsg *m) noexcept nogil:
    """A neighbour solicitation or advertisement whose ICMPv6 header (and
    checksum) icmp6_parse accepted, checked as RFC 4861 7.1.1/7.1.2 says: hop
    limit 255 (it came from this link), code 0, at least 24 bytes, a unicast
    target, options of non-zero length inside the message; a solicitation
    from :: (DAD) goes to a solicited-node group and carries no source
    address option; a multicast advertisement is not solicited."""
    cdef const uint8_t *o
    cdef uint32_t i = 16, n = ic.body_len, olen
    if ip.hop_limit != ND_HOP_LIMIT or ic.code != 0 or n < ND_MSG_LEN - ICMP_HLEN:
        return ERR_NDP_FORMAT
    m.type = ic.type
    m.flags = <uint8_t>(ic.rest >> 24)
    m.target = ic.body
    m.lladdr = NULL
    if ip6_is_multicast(m.target):
        return ERR_NDP_FORMAT
    o = ic.body
    while i < n:
        if i + 2 > n:
            return ERR_NDP_FORMAT
        olen = <uint32_t>o[i + 1] * 8
        if olen == 0 or i + olen > n:
            return ERR_NDP_FORMAT
        if olen == 8 and ((m.type == ND_NEIGHBOR_SOLICIT and o[i] == ND_OPT_SOURCE_LLADDR) or
                          (m.type == ND_NEIGHBOR_ADVERT and o[i] == ND_OPT_TARGET_LLADDR)):
            m.lladdr = o + i + 2
        i += olen
    if m.type == ND_NEIGHBOR_SOLICIT and ip6_is_unspecified(ip.src):
        if m.lladdr != NULL or not (ip.dst[0] == 0xff and ip.dst[1] == 0x02 and ip.dst[11] == 1
                                    and ip.dst[12] == 0xff):
            return ERR_NDP_FORMAT
    if m.type == ND_NEIGHBOR_ADVERT and ip6_is_multicast(ip.dst) and (m.flags & ND_NA_SOLICITED):
        return ERR_NDP_FORMAT
    return WIRE_OK


cdef inline uint32_t ndp_write(uint8_t *p, uint8_t type, uint8_t flags, const uint8_t *target,
                               uint8_t opt_type, const uint8_t *lladdr) noexcept nogil:
    """An NS or NA (checksum left to icmp6_fill_checksum) with one
    link-layer address option when lladdr is not NULL; returns its length."""
    p[0] = type
    p[1] = 0
    p[2] = 0
    p[3] = 0
    wr32(p + 4, <uint32_t>flags << 24)
    memcpy(p + 8, target, 16)
    if lladdr == NULL:
        return ND_MSG_LEN
    p[24] = opt_type
    p[25] = 1
    memcpy(p + 26, lladdr, 6)
    return ND_MSG_LEN + 8
