# Frame output: buffer allocation, the transmit batch, next-hop resolution
# (ARP), and the frames the stack sends on its own (ARP, ICMP, UDP).
#
# Everything the stack sends goes through tx_enqueue, which batches frames
# and hands them to the port in bursts (tx_flush at the end of every poll).

cdef int _EMSGSIZE = _errno.EMSGSIZE
cdef int _ENOBUFS = _errno.ENOBUFS

cdef uint8_t BROADCAST_MAC[6]
memset(BROADCAST_MAC, 0xff, 6)
cdef uint8_t ZERO_MAC[6]
memset(ZERO_MAC, 0, 6)


cdef inline uint32_t tx_alloc(StackState *st) noexcept nogil:
    cdef uint32_t b
    if st.port.ops.alloc_burst(st.port, &b, 1) != 1:
        st.ctr[C_TX_ALLOC_FAILED] += 1
        return NC_BUF_NONE
    return b


cdef void tx_flush(StackState *st) noexcept nogil:
    cdef uint32_t sent
    if st.txq_len == 0:
        return
    sent = st.port.ops.tx_burst(st.port, st.txq, st.txq_len, st.now)
    if sent < st.txq_len:
        st.port.ops.free_burst(st.port, st.txq + sent, st.txq_len - sent)
        st.ctr[C_TX_PORT_REFUSED] += st.txq_len - sent
    st.progress += st.txq_len
    st.txq_len = 0


cdef inline void tx_enqueue(StackState *st, uint32_t b) noexcept nogil:
    st.ctr[C_TX_FRAMES] += 1
    st.ctr[C_TX_BYTES] += nc_port_buf(st.port, b).len
    st.txq[st.txq_len] = b
    st.txq_len += 1
    if st.txq_len == TXQ_MAX:
        tx_flush(st)


# ---- ARP -----------------------------------------------------------------------

cdef inline uint32_t arp_hash(uint32_t ip) noexcept nogil:
    return (ip * 2654435761u) >> 24     # top 8 bits: ARP_TABLE_SIZE == 256


cdef ArpEntry *arp_find(StackState *st, uint32_t ip) noexcept nogil:
    cdef uint32_t i = arp_hash(ip)
    cdef uint32_t k
    cdef ArpEntry *e
    for k in range(8):
        e = &st.arp[(i + k) & (ARP_TABLE_SIZE - 1)]
        if e.ip == ip:
            return e
    return NULL


cdef void arp_forget(StackState *st, ArpEntry *e) noexcept nogil:
    """Empty an entry, dropping (and counting) the frames that waited on it."""
    cdef uint32_t drop[ARP_QUEUE_MAX]
    cdef uint32_t n = 0, b = e.q_head
    while e.q_len and n < ARP_QUEUE_MAX:
        drop[n] = b
        b = nc_port_buf(st.port, b).next
        n += 1
        e.q_len -= 1
    if n:
        st.port.ops.free_burst(st.port, drop, n)
        st.ctr[C_ARP_UNRESOLVED] += n
    memset(e, 0, sizeof(ArpEntry))


cdef ArpEntry *arp_slot_for(StackState *st, uint32_t ip) noexcept nogil:
    """The entry for ip, or a new one (reusing the least useful nearby)."""
    cdef uint32_t i = arp_hash(ip)
    cdef uint32_t k
    cdef ArpEntry *e
    cdef ArpEntry *victim = NULL
    for k in range(8):
        e = &st.arp[(i + k) & (ARP_TABLE_SIZE - 1)]
        if e.ip == ip:
            return e
        if e.state == ARP_EMPTY:
            if victim == NULL or victim.state != ARP_EMPTY:
                victim = e
        elif victim == NULL or (victim.state != ARP_EMPTY and e.expires < victim.expires):
            victim = e
    arp_forget(st, victim)              # evict whatever it still queued
    victim.ip = ip
    victim.q_head = NC_BUF_NONE
    victim.q_tail = NC_BUF_NONE
    return victim


cdef void arp_send(StackState *st, uint16_t oper, const uint8_t *eth_dst, const uint8_t *tha,
                   uint32_t tpa) noexcept nogil:
    cdef uint32_t b = tx_alloc(st)
    cdef nc_buf *nb
    cdef uint8_t *p
    if b == NC_BUF_NONE:
        return
    nb = nc_port_buf(st.port, b)
    p = nc_buf_data(nb)
    eth_write(p, eth_dst, st.mac, ETH_P_ARP)
    arp_write(p + ETH_HLEN, oper, st.mac, st.ip, tha, tpa)
    memset(p + ETH_HLEN + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN)   # minimum frame
    nb.len = 60
    tx_enqueue(st, b)
    if oper == ARP_OP_REQUEST:
        st.ctr[C_TX_ARP_REQUEST] += 1
    else:
        st.ctr[C_TX_ARP_REPLY] += 1


cdef void arp_resolved(StackState *st, ArpEntry *e, const uint8_t *mac) noexcept nogil:
    """Learn ip -> mac and release the frames that waited for it."""
    cdef uint32_t b, nxt
    cdef nc_buf *nb
    if e.state != ARP_REACHABLE or memcmp(e.mac, mac, 6) != 0:
        st.arp_gen += 1
    memcpy(e.mac, mac, 6)
    e.state = ARP_REACHABLE
    e.tries = 0
    e.expires = st.now + st.cfg.arp_timeout_ns
    b = e.q_head
    while e.q_len:
        nb = nc_port_buf(st.port, b)
        nxt = nb.next
        memcpy(nc_buf_data(nb), mac, 6)
        tx_enqueue(st, b)
        b = nxt
        e.q_len -= 1
    e.q_head = NC_BUF_NONE
    e.q_tail = NC_BUF_NONE


cdef void arp_input(StackState *st, const ArpPkt *a) noexcept nogil:
    cdef ArpEntry *e
    if a.oper == ARP_OP_REQUEST:
        st.ctr[C_RX_ARP_REQUEST] += 1
    else:
        st.ctr[C_RX_ARP_REPLY] += 1
    if a.spa == 0 or a.sha[0] & 1:
        return      # probe or a multicast sender: nothing to learn
    if a.tpa == st.ip:
        # RFC 826: the target learns the sender, then answers requests.
        e = arp_slot_for(st, a.spa)
        arp_resolved(st, e, a.sha)
        if a.oper == ARP_OP_REQUEST:
            arp_send(st, ARP_OP_REPLY, a.sha, a.sha, a.spa)
    else:
        e = arp_find(st, a.spa)         # merge only: never learn hosts that did not talk to us
        if e != NULL and e.state != ARP_EMPTY:
            arp_resolved(st, e, a.sha)


cdef void arp_tick(StackState *st) noexcept nogil:
    """Retry unanswered requests; give up (dropping their frames) after
    arp_max_tries."""
    cdef uint32_t i
    cdef ArpEntry *e
    if st.now < st.arp_next_scan:
        return
    st.arp_next_scan = st.now + st.cfg.arp_retry_ns // 4
    for i in range(ARP_TABLE_SIZE):
        e = &st.arp[i]
        if e.state != ARP_INCOMPLETE or st.now < e.next_request:
            continue
        if e.tries >= st.cfg.arp_max_tries:
            arp_forget(st, e)
            continue
        e.tries += 1
        e.next_request = st.now + st.cfg.arp_retry_ns
        arp_send(st, ARP_OP_REQUEST, BROADCAST_MAC, ZERO_MAC, e.ip)


cdef inline bint arp_lookup(StackState *st, uint32_t ip, uint8_t *mac) noexcept nogil:
    """Copy ip's MAC to mac if known (refreshing an expired entry in the
    background: it is used meanwhile)."""
    cdef ArpEntry *e = arp_find(st, ip)
    if e == NULL or e.state != ARP_REACHABLE:
        return False
    memcpy(mac, e.mac, 6)
    if e.expires < st.now and st.now >= e.next_request:
        e.next_request = st.now + st.cfg.arp_retry_ns
        arp_send(st, ARP_OP_REQUEST, e.mac, e.mac, ip)    # unicast refresh
    return True


cdef void ip_send(StackState *st, uint32_t b, uint32_t dst) noexcept nogil:
    """Send a complete frame whose Ethernet destination is still unknown:
    resolve dst (on-link) or hold the frame until ARP answers."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef ArpEntry *e
    if arp_lookup(st, dst, nc_buf_data(nb)):
        tx_enqueue(st, b)
        return
    e = arp_slot_for(st, dst)
    if e.state == ARP_REACHABLE:            # expired but present: use it
        memcpy(nc_buf_data(nb), e.mac, 6)
        tx_enqueue(st, b)
        return
    if e.q_len >= ARP_QUEUE_MAX:
        st.port.ops.free_burst(st.port, &b, 1)
        st.ctr[C_ARP_QUEUE_FULL] += 1
        return
    nb.next = NC_BUF_NONE
    if e.q_len == 0:
        e.q_head = b
    else:
        nc_port_buf(st.port, e.q_tail).next = b
    e.q_tail = b
    e.q_len += 1
    if e.state == ARP_EMPTY:
        e.state = ARP_INCOMPLETE
        e.tries = 1
        e.next_request = st.now + st.cfg.arp_retry_ns
        arp_send(st, ARP_OP_REQUEST, BROADCAST_MAC, ZERO_MAC, dst)


cdef inline uint8_t *frame_start_ip(StackState *st, nc_buf *nb) noexcept nogil:
    """Write the Ethernet header (destination filled in by ip_send) and
    return where the IP header goes."""
    cdef uint8_t *p = nc_buf_data(nb)
    eth_write(p, ZERO_MAC, st.mac, ETH_P_IPV4)
    return p + ETH_HLEN


cdef inline uint16_t next_ip_ident(StackState *st) noexcept nogil:
    st.ip_ident += 1
    return st.ip_ident


# ---- ICMP ------------------------------------------------------------------------

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
    ipv4_write(iph, st.ip, ip.src, IP_PROTO_ICMP, st.cfg.ttl, next_ip_ident(st), icmp_len, False)
    iph[IPV4_HLEN] = ICMP_ECHO_REPLY
    icmp_fill_checksum(iph + IPV4_HLEN, icmp_len)
    nb.len = ETH_HLEN + IPV4_HLEN + icmp_len
    tx_enqueue(st, b)
    st.ctr[C_TX_ICMP_ECHO_REPLY] += 1


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
