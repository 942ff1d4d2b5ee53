# UDP over IPv6, sending: one datagram in one frame from the address on
# dst's prefix (no IPv6 fragmentation: a datagram larger than the MTU is
# refused with EMSGSIZE, as a socket with IPV6_DONTFRAG). Received
# datagrams share the IPv4 path (iface/classify6.pxi queues them in the
# socket's channel; the source is read from the frame's IPv6 header).

cdef int udp6_send(StackState *st, uint16_t sport, const uint8_t *dst, uint16_t dport,
                   const uint8_t *data, uint32_t n) noexcept nogil:
    """0, or -errno (EMSGSIZE: more than one frame; ENOBUFS)."""
    cdef uint32_t b
    cdef nc_buf *nb
    cdef uint8_t *iph
    if n + IPV6_HLEN + UDP_HLEN > st.mtu:
        return -_EMSGSIZE
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
