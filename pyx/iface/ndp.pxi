# Neighbour discovery (RFC 4861) for the stack's IPv6 addresses: the
# neighbour cache (ARP's design: a small open-addressed table, a bounded
# queue of frames per address being resolved, retries, expiry), answers to
# solicitations, duplicate address detection (RFC 4862 5.4, optimistic per
# RFC 4429 by default) with each address's state, the unsolicited
# advertisement, and the next hop: on-link destinations directly, others
# through a default router (learned by iface/router6.pxi).

cdef uint8_t ALL_NODES[16]
memset(ALL_NODES, 0, 16)
ALL_NODES[0] = 0xff
ALL_NODES[1] = 0x02
ALL_NODES[15] = 0x01


cdef inline const uint8_t *ip6_addr(StackState *st, uint32_t i) noexcept nogil:
    return st.v6.addr + 16 * i


cdef inline int ip6_addr_index(StackState *st, const uint8_t *a) noexcept nogil:
    """Which of our addresses a is, or -1."""
    cdef uint32_t i
    for i in range(st.v6.n_addr):
        if memcmp(a, st.v6.addr + 16 * i, 16) == 0:
            return <int>i
    return -1


cdef inline bint ip6_is_all_nodes(const uint8_t *a) noexcept nogil:
    return memcmp(a, ALL_NODES, 16) == 0


cdef inline int ip6_solicited_index(StackState *st, const uint8_t *group) noexcept nogil:
    """Which of our addresses group is the solicited-node group of, or -1."""
    cdef uint8_t g[16]
    cdef uint32_t i
    for i in range(st.v6.n_addr):
        ip6_solicited_node(g, st.v6.addr + 16 * i)
        if memcmp(g, group, 16) == 0:
            return <int>i
    return -1


cdef inline bint ip6_mac_ours(StackState *st, const uint8_t *mac) noexcept nogil:
    """A multicast MAC we listen on: all-nodes (33:33:00:00:00:01) or the
    solicited-node group of one of our addresses (33:33:ff:xx:xx:xx)."""
    cdef uint32_t i
    if st.v6.n_addr == 0 or mac[0] != 0x33 or mac[1] != 0x33:
        return False
    if mac[2] == 0 and mac[3] == 0 and mac[4] == 0 and mac[5] == 1:
        return True
    if mac[2] != 0xff:
        return False
    for i in range(st.v6.n_addr):
        if memcmp(mac + 3, st.v6.addr + 16 * i + 13, 3) == 0:
            return True
    return False


cdef inline bint ip6_on_prefix(const uint8_t *a, const uint8_t *b, uint32_t plen) noexcept nogil:
    cdef uint32_t full = plen // 8, rem = plen % 8
    cdef uint8_t mask
    if memcmp(a, b, full) != 0:
        return False
    if rem == 0:
        return True
    mask = <uint8_t>(0xff << (8 - rem))
    return (a[full] & mask) == (b[full] & mask)


cdef inline bint ip6_addr_usable(StackState *st, uint32_t i) noexcept nogil:
    """Usable as a source and answered for: DAD done, or optimistic."""
    return st.v6.astate[i] == ADDR_PREFERRED or st.v6.astate[i] == ADDR_OPTIMISTIC


cdef inline uint32_t ip6_common_bits(const uint8_t *a, const uint8_t *b) noexcept nogil:
    cdef uint32_t i = 0, n = 0
    cdef uint8_t x
    while i < 16 and a[i] == b[i]:
        i += 1
    n = 8 * i
    if i < 16:
        x = a[i] ^ b[i]
        while not (x & 0x80):
            x <<= 1
            n += 1
    return n


cdef inline const uint8_t *ip6_source_for(StackState *st, const uint8_t *dst) noexcept nogil:
    """Our address to send to dst from (RFC 6724 5, the rules that matter
    here): a usable one (not tentative nor duplicate, rule 3's spirit), of
    dst's scope (rule 2: link-local for link-local), with the longest
    prefix in common with dst (rule 8); the first address when none is."""
    cdef uint32_t i, bits, best_bits = 0
    cdef int best = -1
    cdef bint want_ll = ip6_is_link_local(dst)
    for i in range(st.v6.n_addr):
        if not ip6_addr_usable(st, i) or ip6_is_link_local(st.v6.addr + 16 * i) != want_ll:
            continue
        bits = ip6_common_bits(st.v6.addr + 16 * i, dst)
        if best < 0 or bits > best_bits:
            best, best_bits = <int>i, bits
    if best < 0:
        for i in range(st.v6.n_addr):
            if ip6_addr_usable(st, i):
                return st.v6.addr + 16 * i
        return st.v6.addr
    return st.v6.addr + 16 * best


cdef inline bint ip6_on_link(StackState *st, const uint8_t *a) noexcept nogil:
    """a is reached directly: link-local, on the prefix of one of our
    addresses, or on a prefix a router advertised as on-link."""
    cdef uint32_t i
    if ip6_is_link_local(a):
        return True
    for i in range(st.v6.n_addr):
        if st.v6.astate[i] != ADDR_DUPLICATE and \
                ip6_on_prefix(st.v6.addr + 16 * i, a, st.v6.plen[i]):
            return True
    for i in range(IP6_MAX_PREFIXES):
        if st.v6.prefixes[i].expires > st.now and \
                ip6_on_prefix(st.v6.prefixes[i].prefix, a, st.v6.prefixes[i].plen):
            return True
    return False


cdef inline const uint8_t *ip6_next_hop(StackState *st, const uint8_t *dst) noexcept nogil:
    """Whom to hand a packet for dst to on the link (RFC 4861 5.2): dst
    itself when on-link (or multicast), else a default router; dst when
    there is none (NDP then fails it: counted in ip6_no_route)."""
    cdef uint32_t i
    if ip6_is_multicast(dst) or ip6_on_link(st, dst):
        return dst
    for i in range(IP6_MAX_ROUTERS):
        if st.v6.routers[i].expires > st.now:
            return st.v6.routers[i].ip
    st.ctr[C_IP6_NO_ROUTE] += 1
    return dst


cdef inline uint32_t nd_hash(const uint8_t *a) noexcept nogil:
    cdef uint32_t w
    memcpy(&w, a + 12, 4)
    return (w * 2654435761u) >> 26     # top 6 bits: ND_TABLE_SIZE == 64


cdef NdEntry *nd_find(StackState *st, const uint8_t *a) noexcept nogil:
    cdef uint32_t i = nd_hash(a), k
    cdef NdEntry *e
    for k in range(8):
        e = &st.v6.nd[(i + k) & (ND_TABLE_SIZE - 1)]
        if e.state != ARP_EMPTY and memcmp(e.ip, a, 16) == 0:
            return e
    return NULL


cdef void nd_forget(StackState *st, NdEntry *e) noexcept nogil:
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
        st.ctr[C_NDP_UNRESOLVED] += n
    memset(e, 0, sizeof(NdEntry))


cdef NdEntry *nd_slot_for(StackState *st, const uint8_t *a) noexcept nogil:
    """The entry for a, or a new one (reusing the least useful nearby)."""
    cdef uint32_t i = nd_hash(a), k
    cdef NdEntry *e
    cdef NdEntry *victim = NULL
    for k in range(8):
        e = &st.v6.nd[(i + k) & (ND_TABLE_SIZE - 1)]
        if e.state != ARP_EMPTY and memcmp(e.ip, a, 16) == 0:
            return e
        if e.state == ARP_EMPTY:
            if victim == NULL or victim.state != ARP_EMPTY:
                victim = e
        elif victim == NULL or (victim.state != ARP_EMPTY and e.expires < victim.expires):
            victim = e
    nd_forget(st, victim)
    memcpy(victim.ip, a, 16)
    victim.q_head = NC_BUF_NONE
    victim.q_tail = NC_BUF_NONE
    return victim


cdef void nd_resolved(StackState *st, NdEntry *e, const uint8_t *mac) noexcept nogil:
    """Learn a -> mac and release the frames that waited for it."""
    cdef uint32_t b, nxt
    cdef nc_buf *nb
    if e.state != ARP_REACHABLE or memcmp(e.mac, mac, 6) != 0:
        st.arp_gen += 1             # one generation for both caches: cached MACs re-check
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


cdef void nd_learn(StackState *st, const uint8_t *a, const uint8_t *mac) noexcept nogil:
    """a is at mac (a router's advertisement said so)."""
    nd_resolved(st, nd_slot_for(st, a), mac)


cdef void nd_send(StackState *st, uint8_t type, uint8_t flags, const uint8_t *target,
                  const uint8_t *src, const uint8_t *dst, const uint8_t *eth_dst) noexcept nogil:
    """An NS or NA from src (NULL: the unspecified address, for DAD, which
    carries no link-layer address option) to dst."""
    cdef uint8_t unspec[16]
    cdef uint32_t b = tx_alloc(st), n
    cdef nc_buf *nb
    cdef uint8_t *iph
    if b == NC_BUF_NONE:
        return
    nb = nc_port_buf(st.port, b)
    iph = nc_buf_data(nb) + ETH_HLEN
    eth_write(nc_buf_data(nb), eth_dst, st.mac, ETH_P_IPV6)
    if src == NULL:
        memset(unspec, 0, 16)
        src = unspec
    n = ndp_write(iph + IPV6_HLEN, type, flags, target,
                  ND_OPT_SOURCE_LLADDR if type == ND_NEIGHBOR_SOLICIT else ND_OPT_TARGET_LLADDR,
                  NULL if src == unspec else st.mac)
    ipv6_write(iph, src, dst, IP_PROTO_ICMPV6, ND_HOP_LIMIT, 0, n)
    icmp6_fill_checksum(iph + IPV6_HLEN, n, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + n
    tx_enqueue(st, b)
    st.ctr[C_TX_IPV6] += 1
    st.ctr[C_TX_NDP_NS if type == ND_NEIGHBOR_SOLICIT else C_TX_NDP_NA] += 1


cdef void nd_solicit(StackState *st, const uint8_t *target, const uint8_t *eth_dst) noexcept nogil:
    """Ask for target's MAC: at its solicited-node group, or unicast to a
    known MAC (a refresh)."""
    cdef uint8_t group[16]
    cdef uint8_t gmac[6]
    if eth_dst == NULL:
        ip6_solicited_node(group, target)
        ip6_multicast_mac(gmac, group)
        nd_send(st, ND_NEIGHBOR_SOLICIT, 0, target, ip6_source_for(st, target), group, gmac)
    else:
        nd_send(st, ND_NEIGHBOR_SOLICIT, 0, target, ip6_source_for(st, target), target, eth_dst)


cdef void nd_conflict(StackState *st, int i, const uint8_t *mac) noexcept nogil:
    """Another host has (or claims) our address i: counted; one still in
    DAD becomes duplicate, never used (RFC 4862 5.4.5)."""
    st.ctr[C_NDP_ADDRESS_CONFLICT] += 1
    st.v6.conflict_addr = <int8_t>i
    memcpy(st.v6.conflict_mac, mac, 6)
    if st.v6.astate[i] != ADDR_PREFERRED:
        st.v6.astate[i] = ADDR_DUPLICATE
        st.arp_gen += 1                 # cached next hops re-check


cdef void nd_input(StackState *st, const Ipv6Hdr *ip, const NdpMsg *m,
                   const uint8_t *eth_src) noexcept nogil:
    cdef int i = ip6_addr_index(st, m.target)
    cdef const uint8_t *mac
    cdef NdEntry *e
    cdef uint8_t gmac[6]
    if m.type == ND_NEIGHBOR_SOLICIT:
        st.ctr[C_RX_NDP_NS] += 1
        if i < 0 or memcmp(eth_src, st.mac, 6) == 0 or st.v6.astate[i] == ADDR_DUPLICATE:
            return                              # not about us (or our own, looped back)
        if ip6_is_unspecified(ip.src):
            if st.v6.astate[i] == ADDR_TENTATIVE:
                # another host's DAD for an address we are still checking:
                # both tried it at once, neither may keep it (RFC 4862 5.4.3)
                nd_conflict(st, i, eth_src)
                return
            # another host's DAD for an address we use (preferred, or
            # optimistic: already in use, so first come keeps it): defend
            # it with an advertisement to all nodes (the prober then gives
            # up; like an ARP probe, this is not counted as a conflict here;
            # no override from an optimistic address, RFC 4429 3.3)
            ip6_multicast_mac(gmac, ALL_NODES)
            nd_send(st, ND_NEIGHBOR_ADVERT,
                    ND_NA_OVERRIDE if st.v6.astate[i] == ADDR_PREFERRED else 0,
                    m.target, m.target, ALL_NODES, gmac)
            return
        if st.v6.astate[i] == ADDR_TENTATIVE:
            return                              # not ours yet (RFC 4862 5.4.3)
        # RFC 4861 7.2.3: learn the sender, then answer it (solicited; an
        # optimistic address does not override, RFC 4429 3.3)
        mac = m.lladdr if m.lladdr != NULL else eth_src
        if not (mac[0] & 1):
            nd_resolved(st, nd_slot_for(st, ip.src), mac)
        nd_send(st, ND_NEIGHBOR_ADVERT,
                ND_NA_SOLICITED | (ND_NA_OVERRIDE if st.v6.astate[i] == ADDR_PREFERRED else 0),
                m.target, m.target, ip.src, mac)
        return
    st.ctr[C_RX_NDP_NA] += 1
    mac = m.lladdr if m.lladdr != NULL else eth_src
    if i >= 0:
        if memcmp(mac, st.mac, 6) != 0:
            nd_conflict(st, i, mac)             # someone else owns (or claims) our address
        return
    if mac[0] & 1:
        return
    e = nd_find(st, m.target)                   # merge only: never learn unasked
    if e != NULL:
        nd_resolved(st, e, mac)


cdef void nd_unreachable(StackState *st, const uint8_t *a) noexcept nogil:
    """NDP gave up on a: connections still opening to it (or through it,
    a router) fail now with EHOSTUNREACH, as arp_unreachable does for IPv4;
    a router that stopped answering leaves the default router list."""
    cdef uint32_t i
    cdef Tcb *t
    for i in range(st.cfg.max_conns):
        t = &st.tcbs[i]
        if t.state == SYN_SENT and addr_is_v6(t.raddr) and \
                memcmp(ip6_next_hop(st, ip6_peer_addr(st, t.raddr)), a, 16) == 0:
            tcp_closed(st, t, EHOSTUNREACH)
            st.progress += 1
    for i in range(IP6_MAX_ROUTERS):
        if memcmp(st.v6.routers[i].ip, a, 16) == 0:
            st.v6.routers[i].expires = 0


cdef void nd_tick(StackState *st) noexcept nogil:
    """Retry unanswered solicitations; give up after arp_max_tries (the
    frames waiting are dropped and counted)."""
    cdef uint32_t i
    cdef NdEntry *e
    cdef uint8_t gmac[6]
    for i in range(st.v6.n_addr):
        if (st.v6.astate[i] == ADDR_OPTIMISTIC or st.v6.astate[i] == ADDR_TENTATIVE) and \
                st.now >= st.v6.dad_until[i]:
            # DAD heard nobody for RetransTimer (RFC 4862 5.4): ours now, and
            # announced with override (which an optimistic address could
            # not set, RFC 4429 3.3)
            st.v6.astate[i] = ADDR_PREFERRED
            st.ctr[C_NDP_DAD_DONE] += 1
            st.arp_gen += 1
            st.progress += 1
            ip6_multicast_mac(gmac, ALL_NODES)
            nd_send(st, ND_NEIGHBOR_ADVERT, ND_NA_OVERRIDE, st.v6.addr + 16 * i,
                    st.v6.addr + 16 * i, ALL_NODES, gmac)
    if st.v6.n_addr == 0 or st.now < st.v6.nd_next_scan:
        return
    st.v6.nd_next_scan = st.now + st.cfg.arp_retry_ns // 4
    for i in range(ND_TABLE_SIZE):
        e = &st.v6.nd[i]
        if e.state != ARP_INCOMPLETE or st.now < e.next_request:
            continue
        if e.tries >= st.cfg.arp_max_tries:
            nd_unreachable(st, e.ip)
            nd_forget(st, e)
            continue
        e.tries += 1
        e.next_request = st.now + st.cfg.arp_retry_ns
        nd_solicit(st, e.ip, NULL)


cdef uint64_t nd_next_deadline(StackState *st) noexcept nogil:
    cdef uint64_t d = 0
    cdef uint32_t i
    for i in range(st.v6.n_addr):
        if st.v6.astate[i] == ADDR_OPTIMISTIC or st.v6.astate[i] == ADDR_TENTATIVE:
            d = min_nonzero(d, st.v6.dad_until[i])
    for i in range(ND_TABLE_SIZE):
        if st.v6.nd[i].state == ARP_INCOMPLETE:
            # nd_tick looks only from nd_next_scan on (as arp_tick does)
            d = min_nonzero(d, st.v6.nd[i].next_request if st.v6.nd[i].next_request >
                            st.v6.nd_next_scan else st.v6.nd_next_scan)
    return d


cdef void ip6_send(StackState *st, uint32_t b, const uint8_t *dst) noexcept nogil:
    """Send a complete IPv6 frame whose Ethernet destination is still
    unknown: multicast maps to its MAC; unicast is resolved, or the frame
    waits (bounded) for the neighbour's answer."""
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    cdef NdEntry *e
    st.ctr[C_TX_IPV6] += 1
    if ip6_is_multicast(dst):
        ip6_multicast_mac(nc_buf_data(nb), dst)
        tx_enqueue(st, b)
        return
    dst = ip6_next_hop(st, dst)
    e = nd_slot_for(st, dst)
    if e.state == ARP_REACHABLE:
        memcpy(nc_buf_data(nb), e.mac, 6)
        tx_enqueue(st, b)
        if e.expires < st.now and st.now >= e.next_request:
            e.next_request = st.now + st.cfg.arp_retry_ns
            nd_solicit(st, dst, e.mac)          # unicast refresh, used meanwhile
        return
    if e.q_len >= ARP_QUEUE_MAX:
        st.port.ops.free_burst(st.port, &b, 1)
        st.ctr[C_NDP_QUEUE_FULL] += 1
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
        nd_solicit(st, dst, NULL)


cdef void ndp_dad_and_announce(StackState *st, bint announce) noexcept nogil:
    """At start (RFC 4862 5.4.2): a solicitation from :: for each address
    still in DAD asks whether another host has it; then (announce) one
    unsolicited advertisement, override set (RFC 4861 7.2.6), for each
    address already preferred (dad="off"), so that peers holding a previous
    owner's MAC take ours. An address in DAD is announced when DAD ends
    (nd_tick)."""
    cdef uint8_t group[16]
    cdef uint8_t gmac[6]
    cdef uint32_t i
    cdef const uint8_t *a
    for i in range(st.v6.n_addr):
        a = st.v6.addr + 16 * i
        if announce:
            if st.v6.astate[i] == ADDR_PREFERRED:
                ip6_multicast_mac(gmac, ALL_NODES)
                nd_send(st, ND_NEIGHBOR_ADVERT, ND_NA_OVERRIDE, a, a, ALL_NODES, gmac)
        elif st.v6.astate[i] == ADDR_OPTIMISTIC or st.v6.astate[i] == ADDR_TENTATIVE:
            ip6_solicited_node(group, a)
            ip6_multicast_mac(gmac, group)
            nd_send(st, ND_NEIGHBOR_SOLICIT, 0, a, NULL, group, gmac)


cdef int ip6_addr_add(StackState *st, const uint8_t *a, uint8_t plen) noexcept nogil:
    """Take one more address (SLAAC) with DAD as the stack's mode says, its
    solicitation sent now. Its index, or -1 when the table is full."""
    cdef uint32_t i = st.v6.n_addr
    cdef uint8_t group[16]
    cdef uint8_t gmac[6]
    if i >= IP6_MAX_ADDRS:
        return -1
    memcpy(st.v6.addr + 16 * i, a, 16)
    st.v6.plen[i] = plen
    st.v6.n_addr += 1
    if st.v6.dad_mode == DAD_OFF:
        st.v6.astate[i] = ADDR_PREFERRED
        ip6_multicast_mac(gmac, ALL_NODES)
        nd_send(st, ND_NEIGHBOR_ADVERT, ND_NA_OVERRIDE, a, a, ALL_NODES, gmac)
    else:
        st.v6.astate[i] = ADDR_OPTIMISTIC if st.v6.dad_mode == DAD_OPTIMISTIC else ADDR_TENTATIVE
        st.v6.dad_until[i] = st.now + st.v6.dad_ns
        ip6_solicited_node(group, a)
        ip6_multicast_mac(gmac, group)
        nd_send(st, ND_NEIGHBOR_SOLICIT, 0, a, NULL, group, gmac)
    st.arp_gen += 1
    return <int>i


cdef void ip6_send_cached(StackState *st, uint32_t b, const uint8_t *dst, uint8_t *mac,
                          uint32_t *mac_gen) noexcept nogil:
    """ip6_send for a sender that keeps the next hop's MAC itself (a TCP
    connection), as ip_send_cached: good while no neighbour mapping changed
    (st.arp_gen counts both caches' changes)."""
    cdef NdEntry *e
    if mac_gen[0] != st.arp_gen:
        e = nd_find(st, ip6_next_hop(st, dst))
        if e == NULL or e.state != ARP_REACHABLE or e.expires < st.now:
            ip6_send(st, b, dst)            # resolve, refresh or queue
            return
        memcpy(mac, e.mac, 6)
        mac_gen[0] = st.arp_gen
    memcpy(nc_buf_data(nc_port_buf(st.port, b)), mac, 6)
    st.ctr[C_TX_IPV6] += 1
    tx_enqueue(st, b)
