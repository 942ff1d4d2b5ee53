# ARP (RFC 826) and next-hop resolution: the neighbour cache, requests and
# replies, the bounded queue of frames waiting for an answer, retries and
# expiry, and the address claim at start (RFC 5227 probe and announcement).
# An address that never answers fails the connections opening to it. A
# stack has up to IP4_MAX_ADDRS addresses (or none: IPv6 only); every one is
# claimed and answered for, and a destination off every prefix goes to the
# default gateway, when there is one.

from libc.errno cimport EHOSTUNREACH

cdef inline int ip4_addr_index(StackState *st, uint32_t a) noexcept nogil:
    """Which of our IPv4 addresses a is, or -1."""
    cdef uint32_t i
    for i in range(st.v4.n_addr):
        if st.v4.addr[i] == a:
            return <int>i
    return -1


cdef inline bint ip4_on_link(StackState *st, uint32_t a) noexcept nogil:
    cdef uint32_t i
    for i in range(st.v4.n_addr):
        if (a & st.v4.mask[i]) == (st.v4.addr[i] & st.v4.mask[i]):
            return True
    return False


cdef inline uint32_t ip4_source_for(StackState *st, uint32_t dst) noexcept nogil:
    """Our address to send to dst from (RFC 6724's rules that matter for
    IPv4): the one whose prefix holds dst, the longest such prefix first;
    off-link, the one on the gateway's prefix; else the first."""
    cdef uint32_t i, best = 0, best_mask = 0
    cdef bint found = False
    if not ip4_on_link(st, dst) and st.v4.gateway != 0:
        dst = st.v4.gateway
    for i in range(st.v4.n_addr):
        if (dst & st.v4.mask[i]) == (st.v4.addr[i] & st.v4.mask[i]) and \
                (not found or st.v4.mask[i] > best_mask):
            best, best_mask, found = st.v4.addr[i], st.v4.mask[i], True
    return best if found else st.ip


cdef inline uint32_t ip4_next_hop(StackState *st, uint32_t dst) noexcept nogil:
    """Whom to hand a datagram for dst to on the link: dst itself when a
    prefix of ours holds it, else the default gateway (if any)."""
    if st.v4.gateway == 0 or ip4_on_link(st, dst):
        return dst
    return st.v4.gateway


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
                   uint32_t tpa, uint32_t spa) noexcept nogil:
    cdef uint32_t b = tx_alloc(st)
    cdef nc_buf *nb
    cdef uint8_t *p
    if b == NC_BUF_NONE:
        return
    nb = nc_port_buf(st.port, b)
    p = nc_buf_data(nb)
    eth_write(p, eth_dst, st.mac, ETH_P_ARP)
    arp_write(p + ETH_HLEN, oper, st.mac, spa, tha, tpa)
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
    cdef int mine = ip4_addr_index(st, a.tpa)
    cdef int theirs = ip4_addr_index(st, a.spa)
    if a.oper == ARP_OP_REQUEST:
        st.ctr[C_RX_ARP_REQUEST] += 1
    else:
        st.ctr[C_RX_ARP_REPLY] += 1
    if theirs >= 0 and memcmp(a.sha, st.mac, 6) != 0:
        # another host uses one of our addresses (RFC 5227 2.4): count it; a
        # Stack that finds this while starting refuses to run (stack_announce)
        st.ctr[C_ARP_ADDRESS_CONFLICT] += 1
        memcpy(st.conflict_mac, a.sha, 6)
        st.v4.conflict_addr = <int8_t>theirs
        return
    if a.spa == 0:
        # a probe (RFC 5227 2.1.1): defend our address, learn nothing
        if a.oper == ARP_OP_REQUEST and mine >= 0 and memcmp(a.sha, st.mac, 6) != 0:
            arp_send(st, ARP_OP_REPLY, a.sha, a.sha, 0, a.tpa)
        return
    if a.sha[0] & 1:
        return      # a multicast sender: nothing to learn
    if mine >= 0:
        # RFC 826: the target learns the sender, then answers requests
        # (from the address asked for).
        e = arp_slot_for(st, a.spa)
        arp_resolved(st, e, a.sha)
        if a.oper == ARP_OP_REQUEST:
            arp_send(st, ARP_OP_REPLY, a.sha, a.sha, a.spa, a.tpa)
    else:
        e = arp_find(st, a.spa)         # merge only: never learn hosts that did not talk to us
        if e != NULL and e.state != ARP_EMPTY:
            arp_resolved(st, e, a.sha)


cdef void arp_unreachable(StackState *st, uint32_t ip) noexcept nogil:
    """ARP gave up on ip: connections still opening to it (SYN_SENT) fail
    now with EHOSTUNREACH, as Linux's connect() does once its neighbour
    probes go unanswered, instead of after every SYN retry (minutes). When
    ip is the default gateway, so do those opening to hosts beyond it."""
    cdef uint32_t i
    cdef Tcb *t
    cdef bint via_gateway = ip == st.v4.gateway and ip != 0
    for i in range(st.cfg.max_conns):
        t = &st.tcbs[i]
        if t.state == SYN_SENT and (t.raddr == ip or (
                via_gateway and not addr_is_v6(t.raddr) and not ip4_on_link(st, t.raddr))):
            tcp_closed(st, t, EHOSTUNREACH)
            st.progress += 1            # something happened: a waiting connect() returns


cdef void arp_tick(StackState *st) noexcept nogil:
    """Retry unanswered requests; after arp_max_tries requests
    arp_retry_ns apart, give up: drop their frames and fail the connections
    opening to the address (arp_unreachable)."""
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
            arp_unreachable(st, e.ip)
            arp_forget(st, e)
            continue
        e.tries += 1
        e.next_request = st.now + st.cfg.arp_retry_ns
        arp_send(st, ARP_OP_REQUEST, BROADCAST_MAC, ZERO_MAC, e.ip, ip4_source_for(st, e.ip))


cdef inline bint arp_lookup(StackState *st, uint32_t ip, uint8_t *mac) noexcept nogil:
    """Copy ip's MAC to mac if known (refreshing an expired entry in the
    background: it is used meanwhile)."""
    cdef ArpEntry *e = arp_find(st, ip)
    if e == NULL or e.state != ARP_REACHABLE:
        return False
    memcpy(mac, e.mac, 6)
    if e.expires < st.now and st.now >= e.next_request:
        e.next_request = st.now + st.cfg.arp_retry_ns
        arp_send(st, ARP_OP_REQUEST, e.mac, e.mac, ip, ip4_source_for(st, ip))    # unicast refresh
    return True


cdef void ip_send(StackState *st, uint32_t b, uint32_t dst) noexcept nogil:
    """Send a complete frame whose Ethernet destination is still unknown:
    resolve its next hop (dst on-link, else the gateway) or hold the frame
    until ARP answers."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef ArpEntry *e
    dst = ip4_next_hop(st, dst)
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
        arp_send(st, ARP_OP_REQUEST, BROADCAST_MAC, ZERO_MAC, dst, ip4_source_for(st, dst))


cdef void ip_send_cached(StackState *st, uint32_t b, uint32_t dst, uint8_t *mac,
                         uint32_t *mac_gen) noexcept nogil:
    """ip_send for a sender that keeps the next hop's MAC itself (a TCP
    connection): the copy in `mac` is good while the ARP table has not
    changed since *mac_gen, which saves the table lookup per segment."""
    if mac_gen[0] == st.arp_gen or arp_lookup(st, ip4_next_hop(st, dst), mac):
        mac_gen[0] = st.arp_gen
        memcpy(nc_buf_data(nc_port_buf(st.port, b)), mac, 6)
        tx_enqueue(st, b)
    else:
        ip_send(st, b, dst)


cdef void arp_probe_and_announce(StackState *st, bint announce) noexcept nogil:
    """At start (RFC 5227), for each of our addresses: a probe asks whether
    anyone holds it (sender address 0, so that no cache learns from it); an
    announcement (sender and target the address) makes peers that cached it
    with a previous owner's MAC take ours."""
    cdef uint32_t i, a
    for i in range(st.v4.n_addr):
        a = st.v4.addr[i]
        arp_send(st, ARP_OP_REQUEST, BROADCAST_MAC, ZERO_MAC, a, a if announce else 0)
