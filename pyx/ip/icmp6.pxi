# ICMPv6 (RFC 4443): echo replies turned around in place and errors sent
# about packets we cannot deliver (rate-limited with ICMP's budget). The
# neighbour discovery messages are iface/ndp.pxi's.

cdef void icmp6_echo_reply_in_place(StackState *st, uint32_t b, const Ipv6Hdr *ip,
                                    const uint8_t *src_mac) noexcept nogil:
    """Turn an echo request into its reply inside the same buffer: the
    request's extension headers are left out (the message slides down), the
    addresses swap, the checksum is recomputed over the new pseudo header."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef uint8_t *p = nc_buf_data(nb)
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint32_t n = ip.payload_len
    if ip.payload != iph + IPV6_HLEN:
        memmove(iph + IPV6_HLEN, ip.payload, n)
    eth_write(p, src_mac, st.mac, ETH_P_IPV6)
    ipv6_write(iph, ip.dst, ip.src, IP_PROTO_ICMPV6, st.cfg.ttl, 0, n)
    iph[IPV6_HLEN] = ICMP6_ECHO_REPLY
    icmp6_fill_checksum(iph + IPV6_HLEN, n, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + n
    tx_enqueue(st, b)
    st.ctr[C_TX_IPV6] += 1
    st.ctr[C_TX_ICMP6_ECHO_REPLY] += 1


cdef void icmp6_send_error(StackState *st, uint8_t type, uint8_t code, uint32_t rest,
                           const Ipv6Hdr *ip) noexcept nogil:
    """An error about packet `ip` quoting as much of it as fits in the
    minimum MTU (RFC 4443 2.4(c)); never about a packet from :: or a
    multicast source, nor to a multicast destination (2.4(e))."""
    cdef uint32_t quoted = ip.total_len, b
    cdef nc_buf *nb
    cdef uint8_t *iph
    if ip6_is_unspecified(ip.src) or ip6_is_multicast(ip.src) or ip6_is_multicast(ip.dst):
        return
    if not rate_allow(&st.icmp_rate, st.cfg.challenge_ack_limit, st.now):
        return
    if quoted > IPV6_MIN_MTU - IPV6_HLEN - ICMP_HLEN:
        quoted = IPV6_MIN_MTU - IPV6_HLEN - ICMP_HLEN
    if ETH_HLEN + IPV6_HLEN + ICMP_HLEN + quoted > st.mtu + ETH_HLEN:
        quoted = st.mtu - IPV6_HLEN - ICMP_HLEN
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return
    nb = nc_port_buf(st.port, b)
    iph = nc_buf_data(nb) + ETH_HLEN
    eth_write(nc_buf_data(nb), ZERO_MAC, st.mac, ETH_P_IPV6)
    memcpy(iph + IPV6_HLEN + ICMP_HLEN, ip.hdr, quoted)
    ipv6_write(iph, ip.dst, ip.src, IP_PROTO_ICMPV6, st.cfg.ttl, 0, ICMP_HLEN + quoted)
    icmp_write_header(iph + IPV6_HLEN, type, code, rest)
    icmp6_fill_checksum(iph + IPV6_HLEN, ICMP_HLEN + quoted, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + ICMP_HLEN + quoted
    st.ctr[C_TX_ICMP6_UNREACH] += 1
    ip6_send(st, b, iph + 24)


cdef bint icmp6_quoted_tcp(StackState *st, const IcmpHdr *ic, IcmpQuote *q) noexcept nogil:
    """A packet too big (RFC 8201) or destination unreachable about a TCP
    segment we sent to a known IPv6 peer: fill q as icmp_quoted_tcp does
    for IPv4 (a PTB becomes "fragmentation needed", code 4, with its MTU,
    never below 1280; port unreachable becomes code 3). The quote is the
    invoking packet's start: its fixed header and the TCP ports and sequence
    number (a segment of ours carries no extension header)."""
    cdef const uint8_t *l4
    cdef uint32_t mtu
    if ic.type != ICMP6_PACKET_TOO_BIG and ic.type != ICMP6_DEST_UNREACH:
        return False
    if ic.body_len < IPV6_HLEN + 8 or (ic.body[0] >> 4) != 6 or ic.body[6] != IP_PROTO_TCP:
        return False
    cdef int ours = ip6_addr_index(st, ic.body + 8)
    if ours < 0:
        return False
    q.laddr = <uint32_t>ours
    q.raddr = ip6_peer_find(st, ic.body + 24)
    if q.raddr == 0:
        return False
    l4 = ic.body + IPV6_HLEN
    if ic.type == ICMP6_PACKET_TOO_BIG:
        mtu = ic.rest
        q.code = 4
        q.mtu = <uint16_t>(IPV6_MIN_MTU if mtu < IPV6_MIN_MTU else (mtu if mtu < 65535 else 65535))
    else:
        q.code = 3 if ic.code == 4 else 1
        q.mtu = 0
    q.lport = rd16(l4)
    q.rport = rd16(l4 + 2)
    q.seq = rd32(l4 + 4)
    return True
