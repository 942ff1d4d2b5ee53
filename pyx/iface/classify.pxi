# The classifier: every received frame is parsed once (lengths and
# checksums checked, each reason counted), answered in place when it is ARP or
# an ICMP echo, and otherwise dropped into the channel of the socket it
# belongs to: exact 4-tuple first, then a TIME_WAIT record (answered at
# once), then a listener, else a RST. Whole
# datagrams out of reassembly and ICMP errors are demultiplexed here too.
#
# A buffer in a channel carries what the classifier learned in its user
# words, so the consumer does not parse the IP header again:
#   user[0] = L4 offset from data start | L4 length << 32
#   user[1] = IP source | IP destination << 32
#   user[2] = Ethernet source address (6 bytes)

cdef inline void buf_note(nc_buf *nb, uint32_t l4_off, uint32_t l4_len, uint32_t src,
                          uint32_t dst, const uint8_t *src_mac) noexcept nogil:
    nb.user[0] = <uint64_t>l4_off | (<uint64_t>l4_len << 32)
    nb.user[1] = <uint64_t>src | (<uint64_t>dst << 32)
    nb.user[2] = 0
    memcpy(&nb.user[2], src_mac, 6)


cdef inline void stack_drop(StackState *st, uint32_t b) noexcept nogil:
    st.port.ops.free_burst(st.port, &b, 1)


cdef inline bint ip_is_ours(StackState *st, uint32_t dst) noexcept nogil:
    return ip4_addr_index(st, dst) >= 0


cdef inline bint ip_source_valid(uint32_t src) noexcept nogil:
    """RFC 1122 3.2.1.3: a source that names no single host (0.0.0.0/8,
    127.0.0.0/8, multicast, class E and broadcast) is discarded, so that
    nothing we send (RSTs, ICMP errors, echo replies) goes to a group."""
    cdef uint32_t first = src >> 24
    return first != 0 and first != 127 and first < 224


cdef bint stack_rx_tcp(StackState *st, uint32_t b, uint32_t l4_off, uint32_t l4_len,
                       uint32_t src, uint32_t dst, const uint8_t *src_mac,
                       const TcpHdr *th) noexcept nogil:
    """A checked TCP segment (IPv4 or IPv6: src and dst as TCP keeps them,
    tcp/ip6.pxi) to its connection's channel, its TIME_WAIT record or its
    listener's channel. False when none takes it: the caller answers with
    a RST and drops it; otherwise b is consumed."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef uint32_t id
    cdef int32_t lid
    cdef Tcb *t
    cdef Listener *l
    buf_note(nb, l4_off, l4_len, src, dst, src_mac)
    id = flow_lookup(st, dst, src, th.sport, th.dport)
    if id != NC_BUF_NONE:
        t = &st.tcbs[id]
        if t.chan == 0:
            # its first frame this poll: lease it the next channel of the
            # pool (returned after its drain, iface/poll.pxi)
            if st.nactive >= CHAN_POOL:
                stack_drop(st, b)       # cannot happen: see below
                return True
            st.active[st.nactive] = id
            st.nactive += 1
            t.chan = <uint8_t>st.nactive    # channel nactive - 1 (CHAN_POOL <= 255)
        if nc_ring_enqueue(stack_chan_at(st, t.chan - 1), b) == 0:
            # Cannot happen either, so no counter: a poll takes at most
            # RX_ROUNDS x BURST (128) frames and drains every channel it
            # leased before it returns; there are CHAN_POOL (128)
            # channels of CHAN_SIZE (128) slots each.
            stack_drop(st, b)
        return True
    id = tw_lookup(st, dst, src, th.sport, th.dport)
    if id != NC_BUF_NONE:
        # TIME_WAIT keeps no channel: its record answers at once
        tcp_time_wait_input(st, id, src, dst, src_mac, th)
        stack_drop(st, b)
        return True
    lid = st.listen_by_port[th.dport]
    if lid >= 0 and (th.flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_RST:
        l = &st.listeners[lid]
        if nc_ring_enqueue(l.chan, b) == 0:
            st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
            l.overflows += 1
            stack_drop(st, b)
            return True
        if not l.in_active:
            l.in_active = True
            st.listen_active[st.nlisten_active] = lid
            st.nlisten_active += 1
        return True
    return False


cdef void stack_rx_frame(StackState *st, uint32_t b) noexcept nogil:
    """Classify one received frame; always consumes b (queued, sent back or freed)."""
    cdef FragDatagram *f
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef uint8_t *p = nc_buf_data(nb)
    cdef EthHdr eth
    cdef ArpPkt arp
    cdef Ipv4Hdr ip
    cdef IcmpHdr icmp
    cdef UdpHdr udp
    cdef TcpHdr th
    cdef int rc
    cdef uint32_t id
    cdef int32_t lid, uid
    cdef Tcb *t
    cdef Listener *l
    cdef UdpSock *u
    # A port that vouched for the TCP/UDP/ICMP checksum (NC_BUF_F_CSUM_OK: e.g. a
    # partial one from a local sender with offload) spares that check; the
    # 20-byte IP header checksum is always checked.
    cdef bint verify = not (nb.flags & NC_BUF_F_CSUM_OK)
    cdef uint8_t *ref = NULL
    cdef uint32_t ref_len = 0
    st.ctr[C_RX_FRAMES] += 1
    st.ctr[C_RX_BYTES] += nb.len
    if nb.flags & NC_BUF_F_PAYLOAD_REF:
        # the shm peer's TCP segment whose payload is in its send window
        # (mem/peer_windows.pxi): the frame holds the headers alone
        ref = stack_rx_ref(st, nb)
        if ref == NULL:
            stack_drop(st, b)
            return
        ref_len = <uint32_t>nb.user[1]
        st.ctr[C_RX_BYTES] += ref_len
    rc = eth_parse(p, nb.len, &eth)
    if rc != WIRE_OK:
        st.wire_err[rc] += 1
        stack_drop(st, b)
        return
    if (memcmp(eth.dst, st.mac, 6) != 0 and memcmp(eth.dst, BROADCAST_MAC, 6) != 0 and
            not (eth.ethertype == ETH_P_IPV6 and ip6_mac_ours(st, eth.dst))):
        st.ctr[C_RX_NOT_FOR_US] += 1
        stack_drop(st, b)
        return
    if ref != NULL and eth.ethertype != ETH_P_IPV4:
        st.ctr[C_RX_REF_BAD] += 1
        stack_drop(st, b)
        return
    if eth.ethertype == ETH_P_IPV6:
        stack_rx_ipv6(st, b, &eth, verify)
        return
    if eth.ethertype == ETH_P_ARP:
        rc = arp_parse(eth.payload, eth.payload_len, &arp)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
        else:
            arp_input(st, &arp)
        stack_drop(st, b)
        return
    if eth.ethertype != ETH_P_IPV4:
        st.wire_err[ERR_ETH_TYPE] += 1
        stack_drop(st, b)
        return
    rc = ipv4_parse(eth.payload, eth.payload_len + ref_len, &ip, True)
    if rc != WIRE_OK and rc != ERR_IP_FRAGMENT:
        st.wire_err[rc] += 1
        stack_drop(st, b)
        return
    if ref != NULL and (rc != WIRE_OK or ip.proto != IP_PROTO_TCP):
        st.ctr[C_RX_REF_BAD] += 1
        stack_drop(st, b)
        return
    if not ip_is_ours(st, ip.dst):
        st.ctr[C_RX_IP_NOT_FOR_US] += 1
        stack_drop(st, b)
        return
    if memcmp(eth.dst, BROADCAST_MAC, 6) == 0:
        # a datagram for our unicast address in a link-layer broadcast
        # (RFC 1122 3.3.6: discard; nothing may answer it)
        st.ctr[C_RX_IP_L2_BROADCAST] += 1
        stack_drop(st, b)
        return
    if not ip_source_valid(ip.src):
        st.ctr[C_RX_IP_BAD_SOURCE] += 1
        stack_drop(st, b)
        return
    if rc == ERR_IP_FRAGMENT:
        # not an error: counted as ip_frags_in by reassembly
        f = ip_fragment_input(st, &ip, eth.src)      # copies what it keeps
        stack_drop(st, b)
        if f != NULL:
            stack_rx_reassembled(st, f)
            frag_release(st, f)
        return
    if ip.proto == IP_PROTO_TCP:
        # (a by-reference frame has NC_BUF_F_CSUM_OK, stack_rx_ref: nothing to sum)
        rc = tcp_parse(ip.payload, ip.payload_len, ip.hdr, &th, verify)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            stack_drop(st, b)
            return
        if ref != NULL and not stack_rx_ref_segment(st, nb, &th, <uint32_t>(ip.payload - p), ref,
                                                    ref_len):
            stack_drop(st, b)
            return
        st.ctr[C_RX_TCP] += 1
        if not stack_rx_tcp(st, b, <uint32_t>(ip.payload - p), ip.payload_len, ip.src, ip.dst,
                            eth.src, &th):
            tcp_reply_rst(st, &ip, &th, eth.src)
            stack_drop(st, b)
        return
    if ip.proto == IP_PROTO_UDP:
        rc = udp_parse(ip.payload, ip.payload_len, ip.hdr, &udp, verify)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            stack_drop(st, b)
            return
        st.ctr[C_RX_UDP] += 1
        uid = st.udp_by_port[udp.dport]
        if uid < 0:
            st.ctr[C_RX_UDP_NO_PORT] += 1
            icmp_send_error(st, ICMP_DEST_UNREACH, 3, &ip)   # RFC 1122 4.1.3.1
            stack_drop(st, b)
            return
        u = &st.udps[uid]
        buf_note(nb, <uint32_t>(ip.payload - p), udp.length, ip.src, ip.dst, eth.src)
        st.udp_seq += 1
        nb.user[3] = st.udp_seq
        if nc_ring_enqueue(u.chan, b) == 0:
            u.drops += 1
            st.ctr[C_UDP_CHANNEL_FULL] += 1
            stack_drop(st, b)
        return
    if ip.proto == IP_PROTO_ICMP:
        rc = icmp_parse(ip.payload, ip.payload_len, &icmp, verify)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            stack_drop(st, b)
            return
        if icmp.type == ICMP_ECHO_REQUEST and icmp.code == 0:
            st.ctr[C_RX_ICMP_ECHO] += 1
            icmp_echo_reply_in_place(st, b, &ip, &icmp, eth.src)
            return
        stack_rx_icmp_error(st, &icmp)
        stack_drop(st, b)
        return
    st.ctr[C_RX_UNKNOWN_PROTO] += 1
    stack_drop(st, b)


cdef uint8_t *stack_rx_ref(StackState *st, nc_buf *nb) noexcept nogil:
    """Where a by-reference frame's payload is mapped here (the live shm
    peer's send window), or NULL (counted): no such peer arena mapped, a
    frame of another one, or no bytes of its windows."""
    cdef PeerWindows *pw = &st.peer_wins[st.peer_win_cur]
    cdef uint8_t *d = NULL
    if (pw.key != 0 and <uint32_t>nb.user[2] == <uint32_t>pw.key and
            (st.port.caps & NC_CAP_CSUM_TRUSTED) and nb.flags & NC_BUF_F_CSUM_OK):
        d = peerwin_resolve(pw, nb.user[0], <uint32_t>nb.user[1])
    if d == NULL:
        st.ctr[C_RX_REF_BAD] += 1
    return d


cdef bint stack_rx_ref_segment(StackState *st, nc_buf *nb, TcpHdr *th, uint32_t l4_off,
                               uint8_t *ref, uint32_t ref_len) noexcept nogil:
    """A by-reference frame must be its headers exactly, followed by the
    referenced payload; then th reads the payload there and the buffer
    keeps where (user[3]: address | generation << 48, for buf_tcp). False
    (counted): malformed."""
    if l4_off + th.hdr_len != nb.len or th.payload_len != ref_len:
        st.ctr[C_RX_REF_BAD] += 1
        return False
    th.payload = ref
    th.payload_ref = 1
    th.ref_gen = <uint16_t>nb.user[3]
    nb.user[3] = <uint64_t><size_t>ref | (<uint64_t>th.ref_gen << 48)
    return True


cdef inline bint buf_tcp(StackState *st, uint32_t b, TcpHdr *th) noexcept nogil:
    """Re-read the TCP header the classifier already checked (no checksum)."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef uint8_t *p = nc_buf_data(nb)
    cdef uint32_t off = <uint32_t>(nb.user[0] & 0xffffffffu)
    cdef uint32_t n = <uint32_t>(nb.user[0] >> 32)
    if tcp_parse(p + off, n, NULL, th, False) != WIRE_OK:
        return False
    if nb.flags & NC_BUF_F_PAYLOAD_REF:
        th.payload = <uint8_t *><size_t>(nb.user[3] & 0xffffffffffffULL)
        th.payload_ref = 1
        th.ref_gen = <uint16_t>(nb.user[3] >> 48)
    # the IP header follows the Ethernet header; ECN is the low two bits of
    # IPv4's TOS byte, of IPv6's traffic class (bits 4-5 of its second byte)
    if rd16(p + 12) == ETH_P_IPV6:
        th.ip_ecn = (p[ETH_HLEN + 1] >> 4) & 3
    else:
        th.ip_ecn = p[ETH_HLEN + 1] & 3
    return True


cdef void stack_rx_icmp_error(StackState *st, const IcmpHdr *icmp) noexcept nogil:
    """Every ICMP message but an echo request is counted here, once, whatever
    becomes of it (so that each received frame is accounted for); one about a
    TCP segment of ours goes to TCP."""
    cdef IcmpQuote q
    st.ctr[C_RX_ICMP_OTHER] += 1
    if icmp_quoted_tcp(st, icmp, &q):
        tcp_icmp_unreach(st, &q)


cdef void stack_rx_reassembled(StackState *st, FragDatagram *f) noexcept nogil:
    """Hand a whole datagram to its protocol. It is not in a port buffer, so
    it cannot enter a channel: UDP gets a copy on the socket's side queue,
    TCP and ICMP are processed at once."""
    cdef UdpHdr udp
    cdef TcpHdr th
    cdef IcmpHdr icmp
    cdef Ipv4Hdr ip
    cdef int rc
    cdef uint32_t id
    cdef int32_t uid, lid
    if f.proto == IP_PROTO_UDP:
        rc = udp_parse(f.data, f.total, f.ip_hdr, &udp, True)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            return
        st.ctr[C_RX_UDP] += 1
        uid = st.udp_by_port[udp.dport]
        if uid < 0:
            st.ctr[C_RX_UDP_NO_PORT] += 1
            return
        udp_queue_big(st, &st.udps[uid], f.src, &udp)
    elif f.proto == IP_PROTO_TCP:
        rc = tcp_parse(f.data, f.total, f.ip_hdr, &th, True)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            return
        st.ctr[C_RX_TCP] += 1
        id = flow_lookup(st, f.dst, f.src, th.sport, th.dport)
        if id != NC_BUF_NONE:
            tcp_input(st, &st.tcbs[id], &th)
            return
        id = tw_lookup(st, f.dst, f.src, th.sport, th.dport)
        if id != NC_BUF_NONE:
            tcp_time_wait_input(st, id, f.src, f.dst, f.src_mac, &th)
            return
        lid = st.listen_by_port[th.dport]
        if lid >= 0 and st.listeners[lid].active:
            tcp_listen_input(st, lid, f.src, f.dst, f.src_mac, &th)
            return
        ip.src = f.src
        ip.dst = f.dst
        tcp_reply_rst(st, &ip, &th, f.src_mac)
    elif f.proto == IP_PROTO_ICMP:
        rc = icmp_parse(f.data, f.total, &icmp, True)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            return
        if icmp.type == ICMP_ECHO_REQUEST and icmp.code == 0:
            st.ctr[C_RX_ICMP_ECHO] += 1
            f.data[0] = ICMP_ECHO_REPLY
            icmp_fill_checksum(f.data, f.total)
            if ip_output(st, IP_PROTO_ICMP, f.dst, f.src, f.data, f.total, False) == 0:
                st.ctr[C_TX_ICMP_ECHO_REPLY] += 1
        else:
            stack_rx_icmp_error(st, &icmp)
    else:
        st.ctr[C_RX_UNKNOWN_PROTO] += 1
