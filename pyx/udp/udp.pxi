

# ---- UDP -------------------------------------------------------------------------

cdef int udp_send(StackState *st, uint16_t sport, uint32_t dst, uint16_t dport,
                  const uint8_t *data, uint32_t n) noexcept nogil:
    """0, or -errno (EMSGSIZE: more than an IPv4 datagram holds; ENOBUFS).
    A datagram larger than the MTU leaves in fragments (ip_output)."""
    cdef uint32_t b
    cdef nc_buf *nb
    cdef uint8_t *iph
    cdef uint8_t pseudo[20]
    if n + IPV4_HLEN + UDP_HLEN > IPV4_MAX_LEN:
        return -_EMSGSIZE
    st.ctr[C_TX_UDP] += 1
    if n + IPV4_HLEN + UDP_HLEN > st.mtu:
        # whole datagram in the scratch area, checksummed, then fragmented
        memcpy(st.scratch + UDP_HLEN, data, n)
        wr32(pseudo + 12, st.ip)
        wr32(pseudo + 16, dst)
        udp_write(st.scratch, sport, dport, n, pseudo)
        return ip_output(st, IP_PROTO_UDP, dst, st.scratch, UDP_HLEN + n, False)
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return -_ENOBUFS
    nb = nc_port_buf(st.port, b)
    iph = frame_start_ip(st, nb)
    if n:
        memcpy(iph + IPV4_HLEN + UDP_HLEN, data, n)
    ipv4_write(iph, st.ip, dst, IP_PROTO_UDP, st.cfg.ttl, next_ip_ident(st), UDP_HLEN + n, False)
    udp_write(iph + IPV4_HLEN, sport, dport, n, iph)
    nb.len = ETH_HLEN + IPV4_HLEN + UDP_HLEN + n
    ip_send(st, b, dst)
    return 0




cdef void _udp_free_big(UdpSock *u) noexcept nogil:
    cdef uint32_t i
    if u.big == NULL:
        return
    for i in range(UDP_BIG_MAX):
        free(u.big[i].data)
        u.big[i].data = NULL
    u.big_len = 0
    u.big_head = 0




cdef inline uint64_t _chan_head_seq(StackState *st, nc_ring *chan) noexcept nogil:
    """Arrival number of the datagram at the head of a UDP channel (peeked:
    the consumer may read its own next slot without dequeuing)."""
    cdef uint32_t idx = nc_ring_slots(chan)[chan.cons_head & chan.mask]
    return nc_port_buf(st.port, idx).user[3]
