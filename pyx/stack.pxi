# The interface layer: the classifier and the poll loop.
#
#   poll(now) = rx_burst -> classify each frame -> drain the channels that
#               got frames (TCP input in the consumer's context, batched per
#               connection) -> run due timers -> output -> tx_burst
#
# The classifier does the least it can: parse and check lengths and
# checksums once, answer ARP and ICMP echo in place, and drop every TCP
# segment and UDP datagram into the channel of the socket it belongs to
# (exact 4-tuple first, then listener, else a RST). Channels are bounded;
# a full channel drops and counts.
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
    return dst == st.ip


cdef inline bint ip_source_valid(uint32_t src) noexcept nogil:
    """RFC 1122 3.2.1.3: a source that names no single host (0.0.0.0/8,
    127.0.0.0/8, multicast, class E and broadcast) is discarded, so that
    nothing we send (RSTs, ICMP errors, echo replies) goes to a group."""
    cdef uint32_t first = src >> 24
    return first != 0 and first != 127 and first < 224


cdef void stack_rx_frame(StackState *st, uint32_t b) noexcept nogil:
    """Classify one received frame; always consumes b (queued, sent back or freed)."""
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
    st.ctr[C_RX_FRAMES] += 1
    st.ctr[C_RX_BYTES] += nb.len
    rc = eth_parse(p, nb.len, &eth)
    if rc != WIRE_OK:
        st.wire_err[rc] += 1
        stack_drop(st, b)
        return
    if memcmp(eth.dst, st.mac, 6) != 0 and memcmp(eth.dst, BROADCAST_MAC, 6) != 0:
        st.ctr[C_RX_NOT_FOR_US] += 1
        stack_drop(st, b)
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
    rc = ipv4_parse(eth.payload, eth.payload_len, &ip, True)
    if rc != WIRE_OK and rc != ERR_IP_FRAGMENT:
        st.wire_err[rc] += 1
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
        ip_fragment_input(st, &ip, eth.src)      # copies what it keeps
        stack_drop(st, b)
        return
    if ip.proto == IP_PROTO_TCP:
        rc = tcp_parse(ip.payload, ip.payload_len, ip.hdr, &th, verify)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            stack_drop(st, b)
            return
        st.ctr[C_RX_TCP] += 1
        buf_note(nb, <uint32_t>(ip.payload - p), ip.payload_len, ip.src, ip.dst, eth.src)
        id = flow_lookup(st, ip.src, th.sport, th.dport)
        if id != NC_BUF_NONE:
            t = &st.tcbs[id]
            if nc_ring_enqueue(t.chan, b) == 0:
                st.ctr[C_TCP_CHANNEL_FULL] += 1
                stack_drop(st, b)
                return
            if not t.in_active:
                t.in_active = 1
                st.active[st.nactive] = id
                st.nactive += 1
            return
        lid = st.listen_by_port[th.dport]
        if lid >= 0 and (th.flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_RST:
            l = &st.listeners[lid]
            if nc_ring_enqueue(l.chan, b) == 0:
                st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
                l.overflows += 1
                stack_drop(st, b)
                return
            if not l.in_active:
                l.in_active = True
                st.listen_active[st.nlisten_active] = lid
                st.nlisten_active += 1
            return
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
        icmp_input_error(st, ip.src, &icmp)
        stack_drop(st, b)
        return
    st.ctr[C_RX_UNKNOWN_PROTO] += 1
    stack_drop(st, b)


cdef inline bint buf_tcp(StackState *st, uint32_t b, TcpHdr *th) noexcept nogil:
    """Re-read the TCP header the classifier already checked (no checksum)."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef uint8_t *p = nc_buf_data(nb)
    cdef uint32_t off = <uint32_t>(nb.user[0] & 0xffffffffu)
    cdef uint32_t n = <uint32_t>(nb.user[0] >> 32)
    return tcp_parse(p + off, n, NULL, th, False) == WIRE_OK


cdef void tcp_passive_init(StackState *st, Tcb *t, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, uint16_t sport, uint16_t dport, uint32_t irs,
                           uint32_t iss, const TcpOptions *opts) noexcept nogil:
    """Fill a control block for a connection a listener takes (from a SYN, or
    from a SYN cookie's ACK)."""
    tcp_open_tcb(st, t, dst, src, dport, sport, iss)
    memcpy(t.rmac, src_mac, 6)
    t.rmac_gen = st.arp_gen
    t.flags |= TF_PASSIVE
    t.listener = lid
    t.irs = irs
    t.rcv_nxt = irs + 1
    t.rcv_adv = t.rcv_nxt
    tcp_negotiate(st, t, opts)
    tcp_init_cc(st, t)
    st.ctr[C_TCP_PASSIVE_OPENS] += 1


cdef void tcp_listen_input(StackState *st, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, const TcpHdr *th,
                           bint iss_given=False, uint32_t given_iss=0) noexcept nogil:
    """RFC 9293 3.10.7.2: a segment for a listening port with no connection.
    iss_given: use given_iss as the ISS (a TIME_WAIT takeover) instead of
    the RFC 6528 generator."""
    cdef Listener *l = &st.listeners[lid]
    cdef Tcb *t
    cdef Ipv4Hdr ip
    if th.flags & TCP_RST:
        return
    if th.flags & TCP_ACK and not (th.flags & TCP_SYN):
        # the ACK of a SYN cookie? (only worth checking if we sent some lately)
        if l.cookies_until > st.now:
            t = syncookie_accept(st, lid, src, dst, src_mac, th)
            if t != NULL:
                if th.payload_len or th.flags & TCP_FIN:
                    tcp_input(st, t, th)
                tcp_schedule(st, t)
                return
    if th.flags & TCP_ACK:
        ip.src = src
        ip.dst = dst
        tcp_reply_rst(st, &ip, th, src_mac)
        return
    if not (th.flags & TCP_SYN):
        return          # RFC 9293 3.10.7.2 "fourth": neither SYN nor ACK: drop it
    if l.aq_len >= l.aq_cap:
        # nobody is accepting: a new connection would only wait (as Linux does)
        l.overflows += 1
        st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
        return
    if l.half_open >= l.backlog:
        if st.cfg.syncookies:
            syncookie_reply(st, src, dst, src_mac, th)
            l.cookies_until = st.now + 2 * COOKIE_PERIOD_NS
        else:
            l.overflows += 1
            st.ctr[C_TCP_LISTEN_OVERFLOW] += 1
        return
    t = tcb_alloc(st)
    if t == NULL:
        return
    tcp_passive_init(st, t, lid, src, dst, src_mac, th.sport, th.dport, th.seq,
                     given_iss if iss_given else tcp_isn(st, dst, src, th.dport, th.sport, st.now),
                     &th.opts)
    t.snd_wnd = th.window               # SYN windows are not scaled
    t.max_snd_wnd = t.snd_wnd
    t.snd_wl1 = th.seq
    t.snd_wl2 = t.iss
    tcp_set_state(st, t, SYN_RECEIVED)
    l.half_open += 1
    flow_insert(st, t)
    tcp_schedule(st, t)


cdef void stack_drain_listener(StackState *st, int32_t lid) noexcept nogil:
    cdef Listener *l = &st.listeners[lid]
    cdef uint32_t bufs[BURST]
    cdef uint32_t k, i, id
    cdef nc_buf *nb
    cdef TcpHdr th
    cdef uint8_t mac[8]
    while True:
        k = nc_ring_dequeue_burst(l.chan, bufs, BURST)
        if k == 0:
            break
        for i in range(k):
            nb = nc_port_buf(st.port, bufs[i])
            if not buf_tcp(st, bufs[i], &th):
                continue
            memcpy(mac, &nb.user[2], 6)
            # a retransmitted SYN may find the connection its first copy made
            id = flow_lookup(st, <uint32_t>nb.user[1], th.sport, th.dport)
            if id != NC_BUF_NONE:
                tcp_input(st, &st.tcbs[id], &th)
            elif l.active:
                tcp_listen_input(st, lid, <uint32_t>nb.user[1], <uint32_t>(nb.user[1] >> 32), mac, &th)
        st.port.ops.free_burst(st.port, bufs, k)


cdef void stack_drain_tcb(StackState *st, Tcb *t) noexcept nogil:
    """The consumer side of a connection's channel: TCP input for every
    segment queued this poll, in arrival order."""
    cdef uint32_t bufs[BURST]
    cdef uint32_t k, i
    cdef nc_buf *nb
    cdef TcpHdr th
    cdef uint8_t mac[8]
    cdef int32_t lid
    cdef uint32_t src, dst, new_iss
    t.in_active = 0
    while t.state != CLOSED:
        k = nc_ring_dequeue_burst(t.chan, bufs, BURST)
        if k == 0:
            break
        for i in range(k):
            if t.state == CLOSED:
                break
            if not buf_tcp(st, bufs[i], &th):
                continue
            if (t.state == TIME_WAIT and th.flags & TCP_SYN and not (th.flags & TCP_ACK) and
                    seq_gt(th.seq, t.rcv_nxt) and not (t.flags & TF_HANDLE)):
                # RFC 9293 3.10.7.4 / RFC 6191: a new incarnation above the old
                # sequence space may take over the 4-tuple in TIME_WAIT.
                lid = st.listen_by_port[t.lport]
                if lid >= 0 and st.listeners[lid].active:
                    nb = nc_port_buf(st.port, bufs[i])
                    memcpy(mac, &nb.user[2], 6)
                    src = <uint32_t>nb.user[1]
                    dst = <uint32_t>(nb.user[1] >> 32)
                    # RFC 1122 4.2.2.13 / RFC 9293 3.6.1: the new incarnation's
                    # ISS must lie above every sequence number the old one used
                    # (Linux: old SND.NXT + 65535 + 2, beyond its window too)
                    new_iss = t.snd_max + 65535 + 2
                    tcb_free(st, t)
                    tcp_listen_input(st, lid, src, dst, mac, &th, True, new_iss)
                    st.port.ops.free_burst(st.port, bufs, k)
                    return
            # An ACK the previous segment of this burst asked for (every
            # second full segment; at once for out-of-order data) goes out
            # before the next one is taken in: one ACK per burst would be a
            # stretch ACK that stalls the peer's slow start and hides the
            # duplicate ACKs of a loss (RFC 5681 4.2, RFC 1122 4.2.3.2).
            if t.flags & TF_ACK_NOW and t.state >= ESTABLISHED:
                tcp_send_ack(st, t)
            tcp_input(st, t, &th)
        st.port.ops.free_burst(st.port, bufs, k)


cdef void stack_output(StackState *st) noexcept nogil:
    """Run tcp_output for every connection scheduled, then send the batch."""
    cdef uint32_t i = 0
    cdef Tcb *t
    while i < st.noutq:
        t = &st.tcbs[st.outq[i]]
        t.in_outq = 0
        if t.state != CLOSED:
            tcp_output(st, t)
        i += 1
    st.noutq = 0
    tx_flush(st)


cdef void stack_copy_port_stats(StackState *st) noexcept nogil:
    cdef nc_port *p = st.port
    cdef int i = 0
    while p != NULL and i < 4:
        st.stats_ports[i] = p.stats
        p = p.inner
        i += 1


cdef uint32_t stack_poll(StackState *st, uint64_t now) noexcept nogil:
    """One turn of the loop. Returns a measure of the work done (0 = idle)."""
    cdef uint32_t bufs[BURST]
    cdef uint32_t k, i, rounds = 0
    if now > st.now:
        st.now = now
    st.progress = 0
    st.ctr[C_POLLS] += 1
    while rounds < RX_ROUNDS:
        k = st.port.ops.rx_burst(st.port, bufs, BURST, st.now)
        for i in range(k):
            stack_rx_frame(st, bufs[i])
        st.progress += k
        rounds += 1
        if k < BURST:
            break
    for i in range(st.nlisten_active):
        st.listeners[st.listen_active[i]].in_active = False
        stack_drain_listener(st, st.listen_active[i])
    st.nlisten_active = 0
    i = 0
    while i < st.nactive:
        stack_drain_tcb(st, &st.tcbs[st.active[i]])
        i += 1
    st.nactive = 0
    timers_run(st, st.now)
    arp_tick(st)
    frag_expire(st)
    stack_output(st)
    if st.now >= st.stats_next_copy:
        stack_copy_port_stats(st)
        st.stats_next_copy = st.now + 100000000
    return st.progress


cdef uint64_t stack_next_deadline(StackState *st) noexcept nogil:
    """Earliest time something is due without new input (0 = nothing)."""
    cdef uint64_t d = timers_next_deadline(st)
    cdef uint64_t p = st.port.ops.next_deadline(st.port)
    cdef uint32_t i
    if p != <uint64_t>-1:
        d = min_nonzero(d, p)
    for i in range(ARP_TABLE_SIZE):
        if st.arp[i].state == ARP_INCOMPLETE:
            # arp_tick looks at the table only from arp_next_scan on: a retry
            # due before that is not due until then (reporting the earlier
            # time would have a virtual clock wait for it forever)
            d = min_nonzero(d, st.arp[i].next_request if st.arp[i].next_request > st.arp_next_scan
                            else st.arp_next_scan)
    if st.frag_active:
        for i in range(st.nfrags):
            if st.frags[i].active:
                d = min_nonzero(d, st.frags[i].expires)
    return d
