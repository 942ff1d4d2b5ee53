# IPv4 output: the IP identification, a frame's IP header place, and
# ip_output, which sends a datagram of any size (fragmenting it to the MTU)
# through the interface's next-hop resolution.

cdef inline uint8_t *frame_start_ip(StackState *st, nc_buf *nb) noexcept nogil:
    """Write the Ethernet header (destination filled in by ip_send) and
    return where the IP header goes."""
    cdef uint8_t *p = nc_buf_data(nb)
    eth_write(p, ZERO_MAC, st.mac, ETH_P_IPV4)
    return p + ETH_HLEN


cdef inline uint16_t next_ip_ident(StackState *st) noexcept nogil:
    st.ip_ident += 1
    return st.ip_ident


cdef int ip_output(StackState *st, uint8_t proto, uint32_t src, uint32_t dst,
                   const uint8_t *payload, uint32_t n, bint dont_frag) noexcept nogil:
    """Send an IP datagram from our address src whose payload is already
    complete (checksums included), in fragments when it is larger than the
    MTU (RFC 791), unless dont_frag (then EMSGSIZE). 0, or -errno."""
    cdef uint32_t chunk = (st.mtu - IPV4_HLEN) & ~<uint32_t>7
    cdef uint32_t off = 0, k, b
    cdef uint16_t ident = next_ip_ident(st)
    cdef nc_buf *nb
    cdef uint8_t *iph
    if n + IPV4_HLEN > IPV4_MAX_LEN:
        return -_EMSGSIZE
    if n + IPV4_HLEN > st.mtu and dont_frag:
        return -_EMSGSIZE
    while True:
        k = n - off
        if k + IPV4_HLEN > st.mtu:
            k = chunk
        b = tx_alloc(st)
        if b == NC_BUF_NONE:
            return -_ENOBUFS
        nb = nc_port_buf(st.port, b)
        iph = frame_start_ip(st, nb)
        memcpy(iph + IPV4_HLEN, payload + off, k)
        ipv4_write(iph, src, dst, proto, st.cfg.ttl, ident, k, dont_frag)
        if off + k < n or off:
            # fragment: offset in 8-byte units, MF on all but the last
            wr16(iph + 6, <uint16_t>((off >> 3) | (IP_MF if off + k < n else 0)))
            iph[10] = 0
            iph[11] = 0
            store_csum(iph + 10, nc_csum_fold(nc_csum_partial(iph, IPV4_HLEN, 0)))
            st.ctr[C_IP_FRAGS_OUT] += 1
        nb.len = ETH_HLEN + IPV4_HLEN + k
        ip_send(st, b, dst)
        off += k
        if off >= n:
            return 0
