# ICMP (RFC 792): echo replies turned around in place, errors sent about
# datagrams we cannot deliver (rate-limited), and the quote of a received
# destination-unreachable read for TCP (pyx/tcp/icmp.pxi acts on it).

cdef void icmp_echo_reply_in_place(StackState *st, uint32_t b, Ipv4Hdr *ip, IcmpHdr *ic,
                                   const uint8_t *src_mac) noexcept nogil:
    """Turn an echo request into its reply inside the same buffer (no copy,
    no allocation) and send it back."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef uint8_t *p = nc_buf_data(nb)
    cdef uint8_t *iph = p + ETH_HLEN
    cdef uint32_t icmp_len = ip.payload_len
    if ip.hdr_len != IPV4_HLEN:
        # drop the request's IP options: slide the ICMP message down
        memmove(iph + IPV4_HLEN, ip.payload, icmp_len)
    eth_write(p, src_mac, st.mac, ETH_P_IPV4)
    ipv4_write(iph, ip.dst, ip.src, IP_PROTO_ICMP, st.cfg.ttl, next_ip_ident(st), icmp_len, False)
    iph[IPV4_HLEN] = ICMP_ECHO_REPLY
    icmp_fill_checksum(iph + IPV4_HLEN, icmp_len)
    nb.len = ETH_HLEN + IPV4_HLEN + icmp_len
    tx_enqueue(st, b)
    st.ctr[C_TX_ICMP_ECHO_REPLY] += 1


cdef void icmp_send_error(StackState *st, uint8_t type, uint8_t code, const Ipv4Hdr *ip) noexcept nogil:
    """An ICMP error about datagram `ip` (RFC 792: its header and the first
    8 bytes of its payload), rate-limited with the challenge-ACK budget."""
    cdef uint8_t msg[ICMP_HLEN + 60 + 8]
    cdef uint32_t quoted = ip.hdr_len + (ip.payload_len if ip.payload_len < 8 else 8)
    if not rate_allow(&st.icmp_rate, st.cfg.challenge_ack_limit, st.now):
        return
    icmp_write_header(msg, type, code, 0)
    memcpy(msg + ICMP_HLEN, ip.hdr, quoted)
    icmp_fill_checksum(msg, ICMP_HLEN + quoted)
    if ip_output(st, IP_PROTO_ICMP, ip.dst, ip.src, msg, ICMP_HLEN + quoted, False) == 0:
        st.ctr[C_TX_ICMP_UNREACH] += 1


cdef bint icmp_quoted_tcp(StackState *st, const IcmpHdr *icmp, IcmpQuote *q) noexcept nogil:
    """Destination unreachable about a TCP segment we sent: fill q with the
    code, the next-hop MTU and the quoted addresses, ports and sequence
    number. The quoted datagram is cut short on purpose, so its header is
    read by hand; False for anything else."""
    cdef uint32_t qhl
    cdef const uint8_t *l4
    if icmp.type != ICMP_DEST_UNREACH:
        return False
    if icmp.body_len < IPV4_HLEN + 8 or (icmp.body[0] >> 4) != 4:
        return False
    qhl = (icmp.body[0] & 0x0f) * 4
    if qhl < IPV4_HLEN or icmp.body_len < qhl + 8 or icmp.body[9] != IP_PROTO_TCP:
        return False
    if ip4_addr_index(st, rd32(icmp.body + 12)) < 0:
        return False
    l4 = icmp.body + qhl
    q.code = icmp.code
    q.mtu = <uint16_t>(icmp.rest & 0xffff)
    q.laddr = rd32(icmp.body + 12)
    q.raddr = rd32(icmp.body + 16)
    q.lport = rd16(l4)
    q.rport = rd16(l4 + 2)
    q.seq = rd32(l4 + 4)
    return True
