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
