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


cdef int ip_output(StackState *st, uint8_t proto, uint32_t dst, const uint8_t *payload,
                   uint32_t n, bint dont_frag) noexcept nogil:
    """Send an IP datagram whose payload is already complete (checksums
    included), in fragments when it is larger than the MTU (RFC 791).
    0, or -errno."""
    cdef uint32_t chunk = (st.mtu - IPV4_HLEN) & ~<uint32_t>7
    cdef uint32_t off = 0, k, b
    cdef uint16_t ident = next_ip_ident(st)
    cdef nc_buf *nb
    cdef uint8_t *iph
    if n + IPV4_HLEN > IPV4_MAX_LEN:
        return -_EMSGSIZE
    if n + IPV4_HLEN > st.mtu and dont_frag:
        return -_EMSGSIZE
    while True:
        k = n - off
        if k + IPV4_HLEN > st.mtu:
            k = chunk
        b = tx_alloc(st)
        if b == NC_BUF_NONE:
            return -_ENOBUFS
        nb = nc_port_buf(st.port, b)
        iph = frame_start_ip(st, nb)
        memcpy(iph + IPV4_HLEN, payload + off, k)
        ipv4_write(iph, st.ip, dst, proto, st.cfg.ttl, ident, k, dont_frag)
        if off + k < n or off:
            # fragment: offset in 8-byte units, MF on all but the last
            wr16(iph + 6, <uint16_t>((off >> 3) | (IP_MF if off + k < n else 0)))
            iph[10] = 0
            iph[11] = 0
            store_csum(iph + 10, nc_csum_fold(nc_csum_partial(iph, IPV4_HLEN, 0)))
            st.ctr[C_IP_FRAGS_OUT] += 1
        nb.len = ETH_HLEN + IPV4_HLEN + k
        ip_send(st, b, dst)
        off += k
        if off >= n:
            return 0


cdef void icmp_send_error(StackState *st, uint8_t type, uint8_t code, const Ipv4Hdr *ip) noexcept nogil:
    """An ICMP error about datagram `ip` (RFC 792: its header and the first
    8 bytes of its payload), rate-limited with the challenge-ACK budget."""
    cdef uint8_t msg[ICMP_HLEN + 60 + 8]
    cdef uint32_t quoted = ip.hdr_len + (ip.payload_len if ip.payload_len < 8 else 8)
    if st.now - st.icmp_window_start >= 1000000000:
        st.icmp_window_start = st.now
        st.icmp_count = 0
    if st.icmp_count >= st.cfg.challenge_ack_limit:
        return
    st.icmp_count += 1
    icmp_write_header(msg, type, code, 0)
    memcpy(msg + ICMP_HLEN, ip.hdr, quoted)
    icmp_fill_checksum(msg, ICMP_HLEN + quoted)
    if ip_output(st, IP_PROTO_ICMP, ip.src, msg, ICMP_HLEN + quoted, False) == 0:
        st.ctr[C_TX_ICMP_UNREACH] += 1


cdef void icmp_input_error(StackState *st, uint32_t src, const IcmpHdr *icmp) noexcept nogil:
    """ICMP destination unreachable about one of our TCP segments: lower the
    MSS on "fragmentation needed" (RFC 1191), refuse a connection being
    opened on "port/protocol unreachable" (RFC 1122 4.2.3.9; soft errors
    otherwise, RFC 5461). The quoted sequence number must be in flight
    (RFC 5927 4.1) so that forged messages do little."""
    cdef uint32_t qhl, qsrc, qdst
    cdef const uint8_t *l4
    cdef uint16_t sport, dport
    cdef uint32_t seq, id, mtu, mss
    cdef Tcb *t
    # every ICMP message but an echo request is counted here, once, whatever
    # becomes of it (so that each received frame is accounted for)
    st.ctr[C_RX_ICMP_OTHER] += 1
    if icmp.type != ICMP_DEST_UNREACH:
        return
    # the quoted datagram is cut short on purpose: read its header by hand
    if icmp.body_len < IPV4_HLEN + 8 or (icmp.body[0] >> 4) != 4:
        return
    qhl = (icmp.body[0] & 0x0f) * 4
    if qhl < IPV4_HLEN or icmp.body_len < qhl + 8 or icmp.body[9] != IP_PROTO_TCP:
        return
    qsrc = rd32(icmp.body + 12)
    qdst = rd32(icmp.body + 16)
    if qsrc != st.ip:
        return
    l4 = icmp.body + qhl
    sport = rd16(l4)
    dport = rd16(l4 + 2)
    seq = rd32(l4 + 4)
    id = flow_lookup(st, qdst, dport, sport)
    if id == NC_BUF_NONE:
        return
    t = &st.tcbs[id]
    if not (seq_leq(t.snd_una, seq) and seq_lt(seq, t.snd_max)):
        return
    if icmp.code == 4:
        mtu = icmp.rest & 0xffff
        if mtu < 68:
            mtu = 576                    # an old router that does not say: RFC 1191 plateau
        mss = mtu - IPV4_HLEN - TCP_HLEN - (12 if t.flags & TF_TS_OK else 0)
        if mss < 64:
            mss = 64
        if mss < t.mss:
            t.mss = <uint16_t>mss
            st.ctr[C_TCP_PMTU_UPDATES] += 1
            # resend what no longer fits; a PMTU change is not congestion
            t.snd_nxt = t.snd_una
            tcp_schedule(st, t)
    elif (icmp.code == 2 or icmp.code == 3) and t.state == SYN_SENT:
        tcp_closed(st, t, _ECONNREFUSED)
