# IPv4 fragments: reassembly of what arrives, fragmentation of what leaves,
# and the ICMP messages that belong to them (fragmentation needed -> PMTU,
# RFC 1191; port unreachable for UDP).
#
# Reassembly is bounded three ways: at most frag_max_datagrams datagrams at
# once (each a 64 KiB slot allocated when the stack starts), at most
# frag_max_bytes bytes held in all of them, and frag_timeout per datagram.
# Overlapping fragments are never merged: a datagram that gets one is
# dropped whole (as RFC 5722 requires for IPv6 and Linux does for IPv4).
# A bitmap of 8-byte units per datagram finds overlaps and holes.

cdef enum:
    REASM_MAX = 65535
    REASM_UNITS = 8192          # 8-byte units in a 64 KiB datagram


cdef int frag_init(StackState *st, uint32_t count) noexcept nogil:
    cdef uint32_t i
    st.frags = <FragDatagram *>calloc(count, sizeof(FragDatagram))
    if st.frags == NULL:
        return -1
    st.nfrags = count
    for i in range(count):
        st.frags[i].data = <uint8_t *>malloc(REASM_MAX)
        st.frags[i].units = <uint64_t *>calloc(REASM_UNITS // 64, 8)
        if st.frags[i].data == NULL or st.frags[i].units == NULL:
            return -1
    return 0




cdef void frag_destroy(StackState *st) noexcept nogil:
    cdef uint32_t i
    if st.frags == NULL:
        return
    for i in range(st.nfrags):
        free(st.frags[i].data)
        free(st.frags[i].units)
    free(st.frags)
    st.frags = NULL




cdef inline void frag_release(StackState *st, FragDatagram *f) noexcept nogil:
    st.frag_bytes -= f.received
    f.active = False
    memset(f.units, 0, REASM_UNITS // 8)




cdef void frag_expire(StackState *st) noexcept nogil:
    """Give up on datagrams whose time is over (called every poll)."""
    cdef uint32_t i
    if st.frag_active == 0:
        return
    for i in range(st.nfrags):
        if st.frags[i].active and st.frags[i].expires <= st.now:
            frag_release(st, &st.frags[i])
            st.frag_active -= 1
            st.ctr[C_IP_REASM_TIMEOUT] += 1




cdef inline bint frag_mark(FragDatagram *f, uint32_t first, uint32_t last) noexcept nogil:
    """Mark 8-byte units [first, last]; False if any was already held."""
    cdef uint32_t u
    for u in range(first, last + 1):
        if f.units[u >> 6] & (1ULL << (u & 63)):
            return False
    for u in range(first, last + 1):
        f.units[u >> 6] |= 1ULL << (u & 63)
    return True




cdef void ip_fragment_input(StackState *st, const Ipv4Hdr *ip, const uint8_t *src_mac) noexcept nogil:
    """One fragment (the classifier saw MF or an offset). The buffer stays
    the caller's: the bytes are copied into the datagram's slot."""
    cdef FragDatagram *f = NULL
    cdef FragDatagram *free_slot = NULL
    cdef uint32_t i, off = ip.frag_off, n = ip.payload_len, end
    st.ctr[C_IP_FRAGS_IN] += 1
    frag_expire(st)
    for i in range(st.nfrags):
        if st.frags[i].active:
            if (st.frags[i].ident == ip.ident and st.frags[i].src == ip.src and
                    st.frags[i].dst == ip.dst and st.frags[i].proto == ip.proto):
                f = &st.frags[i]
                break
        elif free_slot == NULL:
            free_slot = &st.frags[i]
    end = off + n
    if f == NULL:
        if free_slot == NULL or n == 0:
            st.ctr[C_IP_REASM_DROPPED] += 1
            return
        f = free_slot
        f.active = True
        f.proto = ip.proto
        f.ident = ip.ident
        f.src = ip.src
        f.dst = ip.dst
        f.total = 0
        f.received = 0
        f.expires = st.now + st.cfg.frag_timeout_ns
        memcpy(f.src_mac, src_mac, 6)
        memcpy(f.ip_hdr, ip.hdr, 20)
        st.frag_active += 1
    # a fragment that is not the last must carry a multiple of 8 bytes, and
    # nothing may reach past 64 KiB
    if end + IPV4_HLEN > REASM_MAX or (ip.more_frags and (n & 7)) or n == 0 or \
            (f.total and (end > f.total or (not ip.more_frags and end != f.total))) or \
            st.frag_bytes + n > st.cfg.frag_max_bytes:
        st.ctr[C_IP_REASM_DROPPED] += 1
        frag_release(st, f)
        st.frag_active -= 1
        return
    if not frag_mark(f, off >> 3, (end - 1) >> 3):
        st.ctr[C_IP_REASM_OVERLAP] += 1
        frag_release(st, f)
        st.frag_active -= 1
        return
    memcpy(f.data + off, ip.payload, n)
    f.received += n
    st.frag_bytes += n
    if not ip.more_frags:
        f.total = end
    if off == 0:
        memcpy(f.ip_hdr, ip.hdr, 20)
    if f.total and f.received == f.total:
        st.ctr[C_IP_REASSEMBLED] += 1
        ip_deliver_reassembled(st, f)
        frag_release(st, f)
        st.frag_active -= 1




cdef void ip_deliver_reassembled(StackState *st, FragDatagram *f) noexcept nogil:
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
    cdef UdpSock *u
    cdef BigDgram *d
    # the header of the whole datagram: its total length is what we rebuilt
    wr16(f.ip_hdr + 2, <uint16_t>(IPV4_HLEN + f.total))
    wr16(f.ip_hdr + 6, 0)
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
        u = &st.udps[uid]
        if u.big == NULL:
            u.big = <BigDgram *>calloc(UDP_BIG_MAX, sizeof(BigDgram))
        if u.big == NULL or u.big_len >= UDP_BIG_MAX:
            u.drops += 1
            st.ctr[C_UDP_CHANNEL_FULL] += 1
            return
        d = &u.big[(u.big_head + u.big_len) % UDP_BIG_MAX]
        d.data = <uint8_t *>malloc(udp.payload_len if udp.payload_len else 1)
        if d.data == NULL:
            u.drops += 1
            return
        memcpy(d.data, udp.payload, udp.payload_len)
        d.len = udp.payload_len
        d.src = f.src
        d.sport = udp.sport
        st.udp_seq += 1
        d.seq = st.udp_seq
        u.big_len += 1
    elif f.proto == IP_PROTO_TCP:
        rc = tcp_parse(f.data, f.total, f.ip_hdr, &th, True)
        if rc != WIRE_OK:
            st.wire_err[rc] += 1
            return
        st.ctr[C_RX_TCP] += 1
        id = flow_lookup(st, f.src, th.sport, th.dport)
        if id != NC_BUF_NONE:
            tcp_input(st, &st.tcbs[id], &th)
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
            if ip_output(st, IP_PROTO_ICMP, f.src, f.data, f.total, False) == 0:
                st.ctr[C_TX_ICMP_ECHO_REPLY] += 1
        else:
            icmp_input_error(st, f.src, &icmp)
    else:
        st.ctr[C_RX_UNKNOWN_PROTO] += 1
