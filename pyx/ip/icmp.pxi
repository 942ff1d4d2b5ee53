

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
