# UDP over IPv6, sending: a datagram from the address on dst's prefix, in
# one frame, or (larger than the MTU) whole in the scratch area, checksummed,
# then cut into fragments by the source (RFC 8200 4.5; IPv6 routers never
# fragment). Received datagrams share the IPv4 path (iface/classify6.pxi
# queues them in the socket's channel; the source is read from the frame's
# IPv6 header).

cdef int udp6_send(StackState *st, uint16_t sport, const uint8_t *dst, uint16_t dport,
                   const uint8_t *data, uint32_t n, bint dont_frag) noexcept nogil:
    """0, or -errno (EMSGSIZE: more than an IPv6 payload holds, or more
    than the MTU with dont_frag, RFC 3542 11.2's IPV6_DONTFRAG; ENOBUFS).
    A datagram larger than the MTU leaves in fragments (ip6_output_fragments)."""
    cdef uint32_t b
    cdef nc_buf *nb
    cdef uint8_t *iph
    cdef uint8_t pseudo[IPV6_HLEN]
    cdef const uint8_t *src
    if n + UDP_HLEN > 65535:
        return -_EMSGSIZE
    if dont_frag and n + IPV6_HLEN + UDP_HLEN > st.mtu:
        st.ctr[C_UDP_TOO_BIG] += 1
        return -_EMSGSIZE
    if n + IPV6_HLEN + UDP_HLEN > st.mtu:
        st.ctr[C_TX_UDP] += 1
        src = ip6_source_for(st, dst)
        memcpy(st.scratch + UDP_HLEN, data, n)
        ipv6_write(pseudo, src, dst, IP_PROTO_UDP, st.cfg.ttl, 0, UDP_HLEN + n)
        udp6_write(st.scratch, sport, dport, n, pseudo)
        return ip6_output_fragments(st, IP_PROTO_UDP, src, dst, st.scratch, UDP_HLEN + n)
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return -_ENOBUFS
    st.ctr[C_TX_UDP] += 1
    nb = nc_port_buf(st.port, b)
    iph = nc_buf_data(nb) + ETH_HLEN
    eth_write(nc_buf_data(nb), ZERO_MAC, st.mac, ETH_P_IPV6)
    if n:
        memcpy(iph + IPV6_HLEN + UDP_HLEN, data, n)
    ipv6_write(iph, ip6_source_for(st, dst), dst, IP_PROTO_UDP, st.cfg.ttl, 0, UDP_HLEN + n)
    udp6_write(iph + IPV6_HLEN, sport, dport, n, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + UDP_HLEN + n
    ip6_send(st, b, iph + 24)
    return 0


cdef void udp_queue_big6(StackState *st, UdpSock *u, const uint8_t *src6,
                         const UdpHdr *udp) noexcept nogil:
    """udp_queue_big for a reassembled IPv6 datagram: the sender's 16 bytes
    beside it (src 0 says so)."""
    cdef uint32_t before = u.big_len
    udp_queue_big(st, u, 0, udp)
    if u.big_len != before:
        memcpy(u.big[(u.big_head + u.big_len - 1) % UDP_BIG_MAX].src6, src6, 16)


cdef int ip6_output_fragments(StackState *st, uint8_t proto, const uint8_t *src,
                              const uint8_t *dst, const uint8_t *payload,
                              uint32_t n) noexcept nogil:
    """Send an upper-layer packet of n bytes (checksum included) larger than
    the MTU as IPv6 fragments: each carries a fragment header (next header,
    offset in 8-byte units, M on all but the last, one 32-bit identification
    for the packet) and at most the MTU. 0, or -errno."""
    cdef uint32_t chunk = (st.mtu - IPV6_HLEN - IP6_FRAG_HLEN) & ~<uint32_t>7
    cdef uint32_t off = 0, k, b
    cdef uint32_t ident
    cdef nc_buf *nb
    cdef uint8_t *iph
    cdef uint8_t *fh
    st.ip6_ident += 1
    # unpredictable across packets of one stack (RFC 7739): keyed, not a bare counter
    ident = st.ip6_ident * <uint32_t>0x9e3779b1 ^ <uint32_t>(st.isn_key1 >> 32)
    while off < n:
        k = n - off if n - off <= chunk else chunk
        b = tx_alloc(st)
        if b == NC_BUF_NONE:
            return -_ENOBUFS
        nb = nc_port_buf(st.port, b)
        eth_write(nc_buf_data(nb), ZERO_MAC, st.mac, ETH_P_IPV6)
        iph = nc_buf_data(nb) + ETH_HLEN
        ipv6_write(iph, src, dst, IP6_NH_FRAGMENT, st.cfg.ttl, 0, IP6_FRAG_HLEN + k)
        fh = iph + IPV6_HLEN
        fh[0] = proto
        fh[1] = 0
        wr16(fh + 2, <uint16_t>(off | (1 if off + k < n else 0)))   # offset is 8-aligned
        wr32(fh + 4, ident)
        memcpy(fh + IP6_FRAG_HLEN, payload + off, k)
        nb.len = ETH_HLEN + IPV6_HLEN + IP6_FRAG_HLEN + k
        st.ctr[C_IP6_FRAGS_OUT] += 1
        ip6_send(st, b, iph + 24)
        off += k
    return 0
