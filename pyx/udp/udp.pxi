# UDP's C side: datagrams out through ip_output, reassembled ones queued
# beside a socket's channel.

cdef int udp_send(StackState *st, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                  const uint8_t *data, uint32_t n, bint dont_frag) noexcept nogil:
    """0, or -errno (EMSGSIZE: more than an IPv4 datagram holds, or more
    than the MTU with dont_frag; ENOBUFS). src 0: our address for dst. A
    datagram larger than the MTU leaves in fragments (ip_output), unless
    dont_frag; every datagram with dont_frag carries DF (path MTU discovery,
    RFC 1191)."""
    cdef uint32_t b
    cdef nc_buf *nb
    cdef uint8_t *iph
    cdef uint8_t pseudo[20]
    if n + IPV4_HLEN + UDP_HLEN > IPV4_MAX_LEN:
        return -_EMSGSIZE
    if dont_frag and n + IPV4_HLEN + UDP_HLEN > st.mtu:
        st.ctr[C_UDP_TOO_BIG] += 1
        return -_EMSGSIZE
    if src == 0:
        src = ip4_source_for(st, dst)
    st.ctr[C_TX_UDP] += 1
    if n + IPV4_HLEN + UDP_HLEN > st.mtu:
        # whole datagram in the scratch area, checksummed, then fragmented
        memcpy(st.scratch + UDP_HLEN, data, n)
        wr32(pseudo + 12, src)
        wr32(pseudo + 16, dst)
        udp_write(st.scratch, sport, dport, n, pseudo)
        return ip_output(st, IP_PROTO_UDP, src, dst, st.scratch, UDP_HLEN + n, False)
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return -_ENOBUFS
    nb = nc_port_buf(st.port, b)
    iph = frame_start_ip(st, nb)
    if n:
        memcpy(iph + IPV4_HLEN + UDP_HLEN, data, n)
    ipv4_write(iph, src, dst, IP_PROTO_UDP, st.cfg.ttl, next_ip_ident(st), UDP_HLEN + n,
               dont_frag)
    udp_write(iph + IPV4_HLEN, sport, dport, n, iph)
    nb.len = ETH_HLEN + IPV4_HLEN + UDP_HLEN + n
    ip_send(st, b, dst)
    return 0


cdef void udp_free_big(UdpSock *u) noexcept nogil:
    cdef uint32_t i
    if u.big == NULL:
        return
    for i in range(UDP_BIG_MAX):
        free(u.big[i].data)
        u.big[i].data = NULL
    u.big_len = 0
    u.big_head = 0


cdef inline uint64_t _chan_head_seq(StackState *st, nc_ring *chan) noexcept nogil:
    """Arrival number of the datagram at the head of a UDP channel (peeked,
    not dequeued), or UINT64_MAX when the channel is empty."""
    cdef uint32_t idx
    if not nc_ring_peek(chan, 0, &idx):
        return 0xffffffffffffffffULL
    return nc_port_buf(st.port, idx).user[3]


cdef void udp_queue_big(StackState *st, UdpSock *u, uint32_t src, const UdpHdr *udp) noexcept nogil:
    """A reassembled datagram is not in a port buffer, so it cannot enter the
    socket's channel: a copy waits on the socket's side queue (bounded by
    UDP_BIG_MAX), ordered against the channel by st.udp_seq."""
    cdef BigDgram *d
    if u.big == NULL:
        u.big = <BigDgram *>calloc(UDP_BIG_MAX, sizeof(BigDgram))
    if u.big == NULL or u.big_len >= UDP_BIG_MAX:
        u.drops += 1
        st.ctr[C_UDP_CHANNEL_FULL] += 1
        return
    d = &u.big[(u.big_head + u.big_len) % UDP_BIG_MAX]
    d.data = <uint8_t *>malloc(udp.payload_len if udp.payload_len else 1)
    if d.data == NULL:
        u.drops += 1
        return
    memcpy(d.data, udp.payload, udp.payload_len)
    d.len = udp.payload_len
    d.src = src
    d.sport = udp.sport
    st.udp_seq += 1
    d.seq = st.udp_seq
    u.big_len += 1
