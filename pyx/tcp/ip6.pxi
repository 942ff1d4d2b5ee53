# TCP's seam between IPv4 and IPv6: everything else in TCP handles a
# connection's addresses as the 32-bit laddr/raddr it always had. For an
# IPv6 peer, raddr is 1 + its slot in the interned peer table
# (iface/ip6peers.pxi) and laddr the index of our own IPv6 address; these
# helpers pick the header, the pseudo-header checksum and the next-hop
# resolution by raddr.

cdef inline uint32_t tcp_ip_hlen(uint32_t raddr) noexcept nogil:
    """The IP header a segment to raddr carries (for the MSS and the frame)."""
    return IPV6_HLEN if addr_is_v6(raddr) else IPV4_HLEN


cdef inline uint8_t *tcp_frame_start(StackState *st, uint8_t *p, const uint8_t *dst_mac,
                                     uint32_t raddr) noexcept nogil:
    """The Ethernet header; returns where the IP header goes."""
    eth_write(p, dst_mac, st.mac, ETH_P_IPV6 if addr_is_v6(raddr) else ETH_P_IPV4)
    return p + ETH_HLEN


cdef inline uint32_t tcp_flow_label(StackState *st, uint32_t laddr, uint32_t raddr,
                                    uint16_t lport, uint16_t rport) noexcept nogil:
    """RFC 6437: a keyed hash of the flow, the same for all its packets,
    never 0 (0 means unlabelled)."""
    cdef uint32_t f = <uint32_t>siphash_tuple(st.isn_key1, st.isn_key0 ^ 0x6c, laddr, raddr,
                                              lport, rport, 2) & 0xfffff
    return f if f else 1


cdef inline void tcp_ip_finish(StackState *st, uint8_t *iph, uint32_t laddr, uint32_t raddr,
                               uint16_t lport, uint16_t rport, uint32_t seg_len,
                               bint no_csum) noexcept nogil:
    """The IP header and (unless no_csum: a port whose peer trusts it) the
    TCP checksum of a segment of seg_len bytes already written after it."""
    if addr_is_v6(raddr):
        ipv6_write(iph, ip6_addr(st, laddr), ip6_peer_addr(st, raddr), IP_PROTO_TCP,
                   st.cfg.ttl, tcp_flow_label(st, laddr, raddr, lport, rport), seg_len)
    else:
        ipv4_write(iph, laddr, raddr, IP_PROTO_TCP, st.cfg.ttl, next_ip_ident(st), seg_len, True)
    if not no_csum:
        tcp_ip_checksum(iph, raddr, seg_len)


cdef inline void tcp_ip_checksum(uint8_t *iph, uint32_t raddr, uint32_t seg_len) noexcept nogil:
    """The TCP checksum over the pseudo header of iph's family (for a caller
    that changes the header after tcp_ip_finish(..., no_csum=True))."""
    if addr_is_v6(raddr):
        tcp6_fill_checksum(iph + IPV6_HLEN, seg_len, iph)
    else:
        tcp_fill_checksum(iph + IPV4_HLEN, seg_len, iph)


cdef inline void tcp_ip_send_cached(StackState *st, uint32_t b, uint32_t raddr, uint8_t *mac,
                                    uint32_t *mac_gen) noexcept nogil:
    if addr_is_v6(raddr):
        ip6_send_cached(st, b, ip6_peer_addr(st, raddr), mac, mac_gen)
    else:
        ip_send_cached(st, b, raddr, mac, mac_gen)
