# The classifier's IPv6 half (EtherType 0x86DD): a frame the classifier
# accepted at the link layer (our MAC, or a multicast group we are in) is
# parsed once (extension headers walked, bounded), checked to be for one of
# our addresses or groups, and handed on: neighbour discovery and echo here,
# UDP and TCP to their sockets. Every frame ends in exactly one counter.

cdef void tcp6_reply_rst(StackState *st, const Ipv6Hdr *ip, const TcpHdr *th,
                         const uint8_t *mac) noexcept nogil:
    """RFC 9293 3.10.7.1 for a segment no connection or listener takes, as
    tcp_reply_rst does over IPv4: never a RST for a RST."""
    cdef TcpOptions none
    cdef uint32_t b, seq = 0, ack = 0
    cdef uint8_t flags = TCP_RST
    cdef nc_buf *nb
    cdef uint8_t *iph
    if th.flags & TCP_RST:
        return
    if th.flags & TCP_ACK:
        seq = th.ack
    else:
        flags = TCP_RST | TCP_ACK
        ack = th.seq + th.payload_len + (1 if th.flags & TCP_SYN else 0) + \
            (1 if th.flags & TCP_FIN else 0)
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return
    none.present = 0
    nb = nc_port_buf(st.port, b)
    iph = nc_buf_data(nb) + ETH_HLEN
    eth_write(nc_buf_data(nb), mac, st.mac, ETH_P_IPV6)
    tcp_write_header(iph + IPV6_HLEN, th.dport, th.sport, seq, ack, flags, 0, &none)
    ipv6_write(iph, ip.dst, ip.src, IP_PROTO_TCP, st.cfg.ttl, 0, TCP_HLEN)
    tcp6_fill_checksum(iph + IPV6_HLEN, TCP_HLEN, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + TCP_HLEN
    tx_enqueue(st, b)
    st.ctr[C_TX_IPV6] += 1
    st.ctr[C_TCP_RST_SENT] += 1


cdef void stack_rx_icmp6(StackState *st, uint32_t b, const Ipv6Hdr *ip, int ours,
                         const EthHdr *eth, bint verify) noexcept nogil:
    cdef IcmpHdr ic
    cdef NdpMsg nd
    cdef IcmpQuote q
    cdef int rc = icmp6_parse(ip.payload, ip.payload_len, ip.hdr, &ic, verify)
    if rc != WIRE_OK:
        st.wire_err[rc] += 1
        stack_drop(st, b)
        return
    if ic.type == ND_NEIGHBOR_SOLICIT or ic.type == ND_NEIGHBOR_ADVERT:
        rc = ndp_parse(ip, &ic, &nd)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
        else:
            nd_input(st, ip, &nd, eth.src)
        stack_drop(st, b)
        return
    if ic.type == ND_ROUTER_ADVERT:
        ra_input(st, ip, &ic, eth.src)
        stack_drop(st, b)
        return
    if ic.type == MLD_QUERY:
        mld_query_input(st, ip, &ic)
        stack_drop(st, b)
        return
    if ic.type == ICMP6_ECHO_REQUEST and ic.code == 0 and ours >= 0:
        st.ctr[C_RX_ICMP6_ECHO] += 1
        icmp6_echo_reply_in_place(st, b, ip, eth.src)
        return
    # errors (counted here, once; one about a TCP segment of ours goes to
    # TCP: packet too big lowers its MSS), router advertisements, echo to
    # a group, ...
    st.ctr[C_RX_ICMP6_OTHER] += 1
    if icmp6_quoted_tcp(st, &ic, &q):
        tcp_icmp_unreach(st, &q)
    stack_drop(st, b)


cdef void stack_rx_reassembled6(StackState *st, FragDatagram *f, int ours) noexcept nogil:
    """Hand a whole IPv6 datagram to its protocol, as stack_rx_reassembled
    does for IPv4: UDP to the socket's side queue, an echo answered when
    the reply fits one frame (we do not fragment), other ICMPv6 counted.
    TCP never needs fragments: a fragmented segment is dropped (counted)."""
    cdef UdpHdr udp
    cdef IcmpHdr ic
    cdef int rc
    cdef int32_t uid
    cdef uint32_t b
    cdef nc_buf *nb
    cdef uint8_t *iph
    if f.proto == IP_PROTO_UDP:
        rc = udp6_parse(f.data, f.total, f.ip_hdr, &udp, True)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            return
        st.ctr[C_RX_UDP] += 1
        uid = st.udp_by_port[udp.dport]
        if uid < 0:
            st.ctr[C_RX_UDP_NO_PORT] += 1
            return
        udp_queue_big6(st, &st.udps[uid], f.ip_hdr + 8, &udp)
    elif f.proto == IP_PROTO_ICMPV6:
        rc = icmp6_parse(f.data, f.total, f.ip_hdr, &ic, True)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            return
        if ic.type != ICMP6_ECHO_REQUEST or ic.code != 0 or \
                IPV6_HLEN + f.total > st.mtu:
            st.ctr[C_RX_ICMP6_OTHER] += 1
            return
        st.ctr[C_RX_ICMP6_ECHO] += 1
        b = tx_alloc(st)
        if b == NC_BUF_NONE:
            return
        nb = nc_port_buf(st.port, b)
        iph = nc_buf_data(nb) + ETH_HLEN
        eth_write(nc_buf_data(nb), f.src_mac, st.mac, ETH_P_IPV6)
        ipv6_write(iph, f.ip_hdr + 24, f.ip_hdr + 8, IP_PROTO_ICMPV6, st.cfg.ttl, 0, f.total)
        memcpy(iph + IPV6_HLEN, f.data, f.total)
        iph[IPV6_HLEN] = ICMP6_ECHO_REPLY
        icmp6_fill_checksum(iph + IPV6_HLEN, f.total, iph)
        nb.len = ETH_HLEN + IPV6_HLEN + f.total
        tx_enqueue(st, b)
        st.ctr[C_TX_IPV6] += 1
        st.ctr[C_TX_ICMP6_ECHO_REPLY] += 1
    else:
        st.ctr[C_IP6_REASM_DROPPED] += 1


cdef void stack_rx_ipv6(StackState *st, uint32_t b, const EthHdr *eth, bint verify) noexcept nogil:
    """Classify one IPv6 frame; always consumes b."""
    cdef Ipv6Hdr ip
    cdef UdpHdr udp
    cdef TcpHdr th
    cdef int ours
    cdef uint32_t raddr
    cdef int32_t uid
    cdef UdpSock *u
    cdef nc_buf *nb
    cdef FragDatagram *f
    cdef int rc = ipv6_parse(eth.payload, eth.payload_len, &ip)
    if rc != WIRE_OK and rc != ERR_IP6_FRAGMENT:
        st.wire_err[rc] += 1
        stack_drop(st, b)
        return
    st.ctr[C_RX_IPV6] += 1
    ours = ip6_addr_index(st, ip.dst)
    if ours >= 0 and not ip6_addr_usable(st, <uint32_t>ours):
        ours = -1                       # tentative or duplicate: not ours (RFC 4862 5.4)
    if ours < 0 and not (ip6_is_multicast(ip.dst) and
                         (ip.dst[1] & 0x0f) == 2 and   # link-scope groups only
                         (ip6_solicited_index(st, ip.dst) >= 0 or
                          ip6_is_all_nodes(ip.dst))):
        st.ctr[C_RX_IP6_NOT_FOR_US] += 1
        stack_drop(st, b)
        return
    if ip6_is_multicast(ip.src):
        st.ctr[C_RX_IP_BAD_SOURCE] += 1
        stack_drop(st, b)
        return
    if rc == ERR_IP6_FRAGMENT:
        if ours < 0:
            st.ctr[C_RX_IP6_NOT_FOR_US] += 1        # fragments to a group: we join none
            stack_drop(st, b)
            return
        # counted as ip6_frags_in by reassembly, which copies what it keeps
        f = ip6_fragment_input(st, &ip, eth.src)
        stack_drop(st, b)
        if f != NULL:
            stack_rx_reassembled6(st, f, ours)
            frag_release(st, f)
        return
    if ip.proto == IP_PROTO_ICMPV6:
        stack_rx_icmp6(st, b, &ip, ours, eth, verify)
        return
    if ours < 0:
        st.ctr[C_RX_IP6_NOT_FOR_US] += 1        # UDP/TCP to a group: we join none
        stack_drop(st, b)
        return
    if ip.proto == IP_PROTO_UDP:
        rc = udp6_parse(ip.payload, ip.payload_len, ip.hdr, &udp, verify)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            stack_drop(st, b)
            return
        st.ctr[C_RX_UDP] += 1
        uid = st.udp_by_port[udp.dport]
        if uid < 0:
            st.ctr[C_RX_UDP_NO_PORT] += 1
            icmp6_send_error(st, ICMP6_DEST_UNREACH, 4, 0, &ip)     # port unreachable
            stack_drop(st, b)
            return
        # as over IPv4 (classify.pxi); the source stays in the frame's
        # IPv6 header, where recvfrom reads it (user[1] = 0 says so)
        u = &st.udps[uid]
        nb = nc_port_buf(st.port, b)
        buf_note(nb, <uint32_t>(ip.payload - nc_buf_data(nb)), udp.length, 0, 0, eth.src)
        st.udp_seq += 1
        nb.user[3] = st.udp_seq
        if nc_ring_enqueue(u.chan, b) == 0:
            u.drops += 1
            st.ctr[C_UDP_CHANNEL_FULL] += 1
            stack_drop(st, b)
        return
    if ip.proto == IP_PROTO_TCP:
        rc = tcp6_parse(ip.payload, ip.payload_len, ip.hdr, &th, verify)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            stack_drop(st, b)
            return
        st.ctr[C_RX_TCP] += 1
        # the peer's interned slot (tcp/ip6.pxi); a new peer gets one only
        # when a listener may take the segment
        raddr = ip6_peer_find(st, ip.src)
        if raddr == 0 and st.listen_by_port[th.dport] >= 0 and \
                (th.flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_RST:
            raddr = ip6_peer_intern(st, ip.src)
            if raddr == 0:
                stack_drop(st, b)               # counted: ip6_peer_table_full
                return
        if raddr == 0 or not stack_rx_tcp(st, b, <uint32_t>(ip.payload - nc_buf_data(
                nc_port_buf(st.port, b))), ip.payload_len, raddr, <uint32_t>ours, eth.src, &th):
            tcp6_reply_rst(st, &ip, &th, eth.src)
            stack_drop(st, b)
        return
    st.ctr[C_RX_UNKNOWN_PROTO] += 1
    icmp6_send_error(st, ICMP6_PARAM_PROBLEM, 1, 6, &ip)   # unrecognised next header at byte 6
    stack_drop(st, b)
