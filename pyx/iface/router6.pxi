# Router discovery (RFC 4861 6.3) and stateless address autoconfiguration
# (RFC 4862 5.5): router solicitations at start, router advertisements
# read into the default router list, the on-link prefix list and the link
# MTU, and (ip= with "slaac") an address for each advertised /64 with the
# autonomous flag. Redirects, reachable time and retrans timer are not taken
# (docs/ipv6.md).

cdef uint8_t ALL_ROUTERS[16]
memset(ALL_ROUTERS, 0, 16)
ALL_ROUTERS[0] = 0xff
ALL_ROUTERS[1] = 0x02
ALL_ROUTERS[15] = 0x02

cdef enum:
    ND_OPT_PREFIX_INFO = 3
    ND_OPT_MTU = 5
    RA_FIXED = 8                # reachable time + retrans timer, after the 8-byte ICMPv6 header
    PI_ONLINK = 0x80
    PI_AUTO = 0x40


cdef void slaac_address(uint8_t *out, const uint8_t *prefix, const uint8_t *mac) noexcept nogil:
    """prefix's first 64 bits + the modified EUI-64 interface identifier of
    mac (RFC 4291 appendix A), as the link-local address is made: stable
    across restarts with no stored secret (docs/ipv6.md says why not
    RFC 7217's)."""
    memcpy(out, prefix, 8)
    out[8] = mac[0] ^ 2
    out[9] = mac[1]
    out[10] = mac[2]
    out[11] = 0xff
    out[12] = 0xfe
    out[13] = mac[3]
    out[14] = mac[4]
    out[15] = mac[5]


cdef void rs_send(StackState *st) noexcept nogil:
    """A router solicitation to all routers, from our link-local address;
    with our MAC only when that address is preferred (an optimistic one
    must not send it, RFC 4429 3.2), from :: when there is none usable."""
    cdef uint8_t unspec[16]
    cdef uint8_t gmac[6]
    cdef const uint8_t *src = NULL
    cdef uint32_t i, n = 8, b
    cdef bint lladdr = False
    cdef nc_buf *nb
    cdef uint8_t *iph
    cdef uint8_t *m
    for i in range(st.v6.n_addr):
        if ip6_is_link_local(st.v6.addr + 16 * i) and ip6_addr_usable(st, i):
            src = st.v6.addr + 16 * i
            lladdr = st.v6.astate[i] == ADDR_PREFERRED
            break
    if src == NULL:
        memset(unspec, 0, 16)
        src = unspec
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return
    nb = nc_port_buf(st.port, b)
    iph = nc_buf_data(nb) + ETH_HLEN
    ip6_multicast_mac(gmac, ALL_ROUTERS)
    eth_write(nc_buf_data(nb), gmac, st.mac, ETH_P_IPV6)
    m = iph + IPV6_HLEN
    memset(m, 0, 16)
    m[0] = ND_ROUTER_SOLICIT
    if lladdr:
        m[8] = ND_OPT_SOURCE_LLADDR
        m[9] = 1
        memcpy(m + 10, st.mac, 6)
        n = 16
    ipv6_write(iph, src, ALL_ROUTERS, IP_PROTO_ICMPV6, ND_HOP_LIMIT, 0, n)
    icmp6_fill_checksum(m, n, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + n
    tx_enqueue(st, b)
    st.ctr[C_TX_IPV6] += 1
    st.ctr[C_TX_NDP_RS] += 1


cdef void rs_start(StackState *st) noexcept nogil:
    """Solicit routers now and up to RS_MAX times 4 s apart, until one answers."""
    if st.v6.n_addr == 0:
        return
    st.v6.rs_left = RS_MAX
    st.v6.rs_next = st.now


cdef void router6_tick(StackState *st) noexcept nogil:
    if st.v6.rs_left and st.now >= st.v6.rs_next:
        st.v6.rs_left -= 1
        st.v6.rs_next = st.now + RS_INTERVAL_NS
        rs_send(st)
    if st.v6.mld_due and st.now >= st.v6.mld_due:
        st.v6.mld_due = 0
        mld_report(st, MLD2_MODE_IS_EXCLUDE, NULL)


cdef uint64_t router6_next_deadline(StackState *st) noexcept nogil:
    cdef uint64_t d = st.v6.mld_due
    if st.v6.rs_left:
        d = min_nonzero(d, st.v6.rs_next if st.v6.rs_next else 1)
    return d


cdef inline uint64_t ra_expiry(StackState *st, uint32_t seconds) noexcept nogil:
    """now + a lifetime in seconds; 0xffffffff is infinity (RFC 4861 4.6.2)."""
    if seconds == 0xffffffffu:
        return 0xffffffffffffffffULL
    return st.now + <uint64_t>seconds * 1000000000ULL


cdef void ra_router(StackState *st, const uint8_t *src, uint32_t lifetime) noexcept nogil:
    """The default router list (RFC 4861 6.3.4): add, refresh, or (lifetime
    0) remove src; a full list keeps its routers."""
    cdef uint32_t i
    cdef int slot = -1, free_slot = -1
    for i in range(IP6_MAX_ROUTERS):
        if st.v6.routers[i].expires > st.now and memcmp(st.v6.routers[i].ip, src, 16) == 0:
            slot = <int>i
        elif st.v6.routers[i].expires <= st.now and free_slot < 0:
            free_slot = <int>i
    if lifetime == 0:
        if slot >= 0:
            st.v6.routers[slot].expires = 0
            st.arp_gen += 1             # next hops change: cached MACs re-check
        return
    if slot < 0:
        if free_slot < 0:
            return
        slot = free_slot
        memcpy(st.v6.routers[slot].ip, src, 16)
        st.arp_gen += 1
    st.v6.routers[slot].expires = st.now + <uint64_t>lifetime * 1000000000ULL


cdef void ra_prefix(StackState *st, const uint8_t *o) noexcept nogil:
    """A prefix information option (RFC 4861 4.6.2): o[2] the length, o[3]
    the flags, o[4..8] the valid and o[8..12] the preferred lifetime,
    o[16..32] the prefix."""
    cdef uint8_t plen = o[2], flags = o[3]
    cdef uint32_t valid = rd32(o + 4), preferred = rd32(o + 8)
    cdef const uint8_t *prefix = o + 16
    cdef uint8_t a[16]
    cdef uint32_t i
    cdef int slot = -1, free_slot = -1
    if plen > 128 or ip6_is_link_local(prefix) or ip6_is_multicast(prefix):
        return                          # RFC 4861 6.3.4 / RFC 4862 5.5.3 a)
    if flags & PI_ONLINK:
        for i in range(IP6_MAX_PREFIXES):
            if st.v6.prefixes[i].expires > st.now and st.v6.prefixes[i].plen == plen and \
                    ip6_on_prefix(st.v6.prefixes[i].prefix, prefix, plen):
                slot = <int>i
            elif st.v6.prefixes[i].expires <= st.now and free_slot < 0:
                free_slot = <int>i
        if slot < 0 and valid:
            slot = free_slot
            if slot >= 0:
                memcpy(st.v6.prefixes[slot].prefix, prefix, 16)
                st.v6.prefixes[slot].plen = plen
        if slot >= 0:
            st.v6.prefixes[slot].expires = ra_expiry(st, valid) if valid else 0
            st.arp_gen += 1
    if (flags & PI_AUTO) and st.v6.slaac and plen == 64 and valid and preferred <= valid:
        slaac_address(a, prefix, st.mac)
        if ip6_addr_index(st, a) < 0 and ip6_addr_add(st, a, 64) >= 0:
            mld_report(st, MLD2_CHANGE_TO_EXCLUDE, a)


cdef void ra_input(StackState *st, const Ipv6Hdr *ip, const IcmpHdr *ic,
                   const uint8_t *eth_src) noexcept nogil:
    """A router advertisement, checked as RFC 4861 6.1.2 says (from a
    link-local address, hop limit 255, code 0, options of non-zero length
    that fit), then taken: the sender as a default router for its
    lifetime, its link-layer address, prefixes and MTU."""
    cdef const uint8_t *o
    cdef const uint8_t *end
    cdef const uint8_t *mac = eth_src
    cdef uint32_t olen, mtu
    st.ctr[C_RX_NDP_RA] += 1
    if ic.code != 0 or ip.hop_limit != ND_HOP_LIMIT or ic.body_len < RA_FIXED:
        st.wire_err[ERR_NDP_FORMAT] += 1
        return
    o = ic.body + RA_FIXED
    end = ic.body + ic.body_len
    while o < end:                      # check every option before taking any
        if end - o < 2 or o[1] == 0 or <uint32_t>(end - o) < 8u * o[1]:
            st.wire_err[ERR_NDP_FORMAT] += 1
            return
        if (o[0] == ND_OPT_PREFIX_INFO and o[1] != 4) or (o[0] == ND_OPT_MTU and o[1] != 1):
            st.wire_err[ERR_NDP_FORMAT] += 1
            return
        o += 8u * o[1]
    if not ip6_is_link_local(ip.src) or st.v6.n_addr == 0:
        st.ctr[C_NDP_RA_IGNORED] += 1
        return
    o = ic.body + RA_FIXED
    while o < end:
        olen = 8u * o[1]
        if o[0] == ND_OPT_SOURCE_LLADDR and olen == 8:
            mac = o + 2
        elif o[0] == ND_OPT_PREFIX_INFO:
            ra_prefix(st, o)
        elif o[0] == ND_OPT_MTU:
            mtu = rd32(o + 4)
            if IPV6_MIN_MTU <= mtu < st.mtu:
                st.mtu = mtu            # the link's MTU: both families (docs/ipv6.md)
        o += olen
    if not (mac[0] & 1):
        nd_learn(st, ip.src, mac)
    ra_router(st, ip.src, (ic.rest & 0xffff))
    if ic.rest & 0xffff:
        st.v6.rs_left = 0               # a router answered: stop soliciting
    st.progress += 1
