# Multicast listener discovery, version 2 (RFC 3810): the stack reports the
# solicited-node groups of its addresses (it must hear neighbour
# solicitations there; a switch snooping MLD forwards a group only to
# ports that reported it) when it starts or takes an address, and again in
# answer to a query, after a random part of its maximum response delay.
# All-nodes is never reported (RFC 3810 6).

cdef uint8_t ALL_MLDV2_ROUTERS[16]
memset(ALL_MLDV2_ROUTERS, 0, 16)
ALL_MLDV2_ROUTERS[0] = 0xff
ALL_MLDV2_ROUTERS[1] = 0x02
ALL_MLDV2_ROUTERS[15] = 0x16

cdef enum:
    MLD_HBH_LEN = 8             # hop-by-hop header: router alert (RFC 2711) + PadN
    MLD2_RECORD_LEN = 20        # type, aux length, source count, group (no sources)


cdef void mld_report(StackState *st, uint8_t record_type, const uint8_t *only) noexcept nogil:
    """One MLDv2 report to ff02::16 (hop limit 1, router alert) with a
    record for each distinct solicited-node group of our addresses (or only
    for `only`'s), from our link-local address, or :: before one is usable
    (RFC 3810 5.2.13)."""
    cdef uint8_t unspec[16]
    cdef uint8_t gmac[6]
    cdef uint8_t groups[IP6_MAX_ADDRS * 16]
    cdef uint32_t n_groups = 0, i, k, b, n
    cdef const uint8_t *src = NULL
    cdef bint dup
    cdef nc_buf *nb
    cdef uint8_t *iph
    cdef uint8_t *h
    cdef uint8_t *m
    if st.v6.n_addr == 0:
        return
    for i in range(st.v6.n_addr):
        if ip6_is_link_local(st.v6.addr + 16 * i) and ip6_addr_usable(st, i) and src == NULL:
            src = st.v6.addr + 16 * i
        if st.v6.astate[i] == ADDR_DUPLICATE or \
                (only != NULL and memcmp(only, st.v6.addr + 16 * i, 16) != 0):
            continue
        ip6_solicited_node(groups + 16 * n_groups, st.v6.addr + 16 * i)
        dup = False
        for k in range(n_groups):
            if memcmp(groups + 16 * k, groups + 16 * n_groups, 16) == 0:
                dup = True
        if not dup:
            n_groups += 1
    if n_groups == 0:
        return
    if src == NULL:
        memset(unspec, 0, 16)
        src = unspec
    b = tx_alloc(st)
    if b == NC_BUF_NONE:
        return
    nb = nc_port_buf(st.port, b)
    iph = nc_buf_data(nb) + ETH_HLEN
    ip6_multicast_mac(gmac, ALL_MLDV2_ROUTERS)
    eth_write(nc_buf_data(nb), gmac, st.mac, ETH_P_IPV6)
    h = iph + IPV6_HLEN
    h[0] = IP_PROTO_ICMPV6              # next header
    h[1] = 0                            # 8 bytes
    h[2] = 5                            # router alert (RFC 2711): value 0, MLD
    h[3] = 2
    h[4] = 0
    h[5] = 0
    h[6] = 1                            # PadN, 0 bytes of padding
    h[7] = 0
    m = h + MLD_HBH_LEN
    n = 8 + MLD2_RECORD_LEN * n_groups
    memset(m, 0, n)
    m[0] = MLD2_REPORT
    wr16(m + 6, <uint16_t>n_groups)
    for k in range(n_groups):
        m[8 + MLD2_RECORD_LEN * k] = record_type
        memcpy(m + 8 + MLD2_RECORD_LEN * k + 4, groups + 16 * k, 16)
    ipv6_write(iph, src, ALL_MLDV2_ROUTERS, IP6_NH_HOPOPTS, 1, 0, MLD_HBH_LEN + n)
    icmp6_fill_checksum(m, n, iph)
    nb.len = ETH_HLEN + IPV6_HLEN + MLD_HBH_LEN + n
    tx_enqueue(st, b)
    st.ctr[C_TX_IPV6] += 1
    st.ctr[C_TX_MLD_REPORT] += 1


cdef void mld_query_input(StackState *st, const Ipv6Hdr *ip, const IcmpHdr *ic) noexcept nogil:
    """A query (MLDv1 or v2) from a link-local router with hop limit 1: a
    general one, or one for a group of ours, is answered by a report of
    all our groups after a random delay below its maximum response delay
    (RFC 3810 6.2; one pending report at a time, the earlier kept)."""
    cdef uint32_t code = ic.rest >> 16, delay_ms
    cdef uint64_t due
    cdef const uint8_t *group
    st.ctr[C_RX_MLD_QUERY] += 1
    if ic.code != 0 or ic.body_len < 16 or ip.hop_limit != 1 or not ip6_is_link_local(ip.src):
        st.wire_err[ERR_NDP_FORMAT] += 1
        return
    group = ic.body
    if not ip6_is_unspecified(group) and ip6_solicited_index(st, group) < 0:
        return                          # about a group we are not in
    # Maximum Response Code (RFC 3810 5.1.3): milliseconds, or from 32768
    # on a floating-point value (mantissa << (exponent + 3))
    if code < 32768:
        delay_ms = code
    else:
        delay_ms = ((code & 0x0fff) | 0x1000) << (((code >> 12) & 7) + 3)
    due = st.now + (siphash_tuple(st.isn_key0, st.isn_key1, <uint32_t>st.now, 0, 0, 0, 3) %
                    (<uint64_t>delay_ms * 1000000ULL + 1))
    if st.v6.mld_due == 0 or due < st.v6.mld_due:
        st.v6.mld_due = due if due else 1
