# SYN cookies (RFC 4987 3.6): when a listener's queue of half-open
# connections is full, answer a SYN without keeping any state, and rebuild
# the connection from the ACK that completes the handshake.
#
# The cookie is our ISN:
#   bits 31..8  the top 24 bits of SipHash(secret; 4-tuple, peer's ISN, minute count,
#               and bits 7..0, so that none of them can be edited)
#   bits  7..5  index of the MSS (COOKIE_MSS) not above the peer's
#   bits  4..1  the peer's window scale, 15 = it sent none
#   bit      0  the peer sent SACK-permitted
# The count advances every 64 s; a cookie is accepted for two counts.
# Timestamps are on for a cookie connection when the completing ACK carries
# the option (we offered it in the SYN-ACK only if the peer had). ECN's
# acceptance is kept in the SYN-ACK's TSval (tcp/ecn.pxi), so only with
# timestamps.

cdef uint16_t COOKIE_MSS[8]


COOKIE_MSS[:] = [536, 1200, 1360, 1440, 1460, 4312, 8960, 65495]


cdef uint64_t COOKIE_PERIOD_NS = 64 * 1000000000ULL


cdef inline uint32_t syncookie_hash(StackState *st, uint32_t laddr, uint32_t raddr,
                                    uint16_t lport, uint16_t rport, uint32_t irs,
                                    uint64_t count, uint32_t data) noexcept nogil:
    return <uint32_t>(siphash_tuple(st.cookie_key0, st.cookie_key1 ^ data, laddr, raddr, lport,
                                    rport, irs ^ <uint32_t>count) >> 32) & 0xffffff00u


cdef uint32_t syncookie_make(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                             uint16_t rport, uint32_t irs, const TcpOptions *o) noexcept nogil:
    cdef uint32_t peer_mss = o.mss if o.present & OPT_MSS else 536
    cdef uint32_t idx = 0, k, data
    cdef uint32_t ws = 15
    for k in range(8):
        if COOKIE_MSS[k] <= peer_mss:
            idx = k
    if o.present & OPT_WSCALE and st.cfg.window_scaling:
        ws = o.wscale if o.wscale <= 14 else 14
    data = (idx << 5) | (ws << 1) | (1 if (o.present & OPT_SACK_PERM and st.cfg.sack) else 0)
    return syncookie_hash(st, laddr, raddr, lport, rport, irs, st.now // COOKIE_PERIOD_NS, data) | data


cdef bint syncookie_check(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t lport,
                          uint16_t rport, uint32_t irs, uint32_t cookie) noexcept nogil:
    cdef uint64_t count = st.now // COOKIE_PERIOD_NS
    cdef uint32_t top = cookie & 0xffffff00u
    cdef uint32_t data = cookie & 0xffu
    if syncookie_hash(st, laddr, raddr, lport, rport, irs, count, data) == top:
        return True
    return count > 0 and syncookie_hash(st, laddr, raddr, lport, rport, irs, count - 1, data) == top


cdef void syncookie_reply(StackState *st, uint32_t src, uint32_t dst, const uint8_t *src_mac,
                          const TcpHdr *th) noexcept nogil:
    """The stateless SYN-ACK: the cookie is its sequence number, and it
    answers what the SYN offered, as a connection's SYN-ACK would."""
    cdef uint32_t cookie = syncookie_make(st, dst, src, th.dport, th.sport, th.seq, &th.opts)
    cdef TcpOptions o
    cdef uint32_t win = st.cfg.rcvbuf if st.cfg.rcvbuf < 65535 else 65535
    cdef bint ecn
    tcp_syn_options(st, &o, <uint16_t>(st.mtu - tcp_ip_hlen(src) - TCP_HLEN),
                    <uint8_t>tcp_pick_wscale(st.cfg.rcvbuf), th.opts.present)
    ecn = ecn_cookie_offer(st, th, (o.present & OPT_TIMESTAMP) != 0)
    if o.present & OPT_TIMESTAMP:
        o.ts_val = ecn_cookie_tsval(<uint32_t>(st.now // 1000000), ecn)
        o.ts_ecr = th.opts.ts_val
    if tcp_reply_stateless(st, dst, src, src_mac, th.dport, th.sport, cookie, th.seq + 1,
                           TCP_SYN | TCP_ACK | (TCP_ECE if ecn else 0), <uint16_t>win, &o):
        st.ctr[C_TCP_SYNCOOKIES_SENT] += 1


cdef Tcb *syncookie_accept(StackState *st, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, const TcpHdr *th) noexcept nogil:
    """The ACK of a cookie SYN-ACK: rebuild the connection, ESTABLISHED.
    NULL if the cookie is not ours (or no connection can be made)."""
    cdef uint32_t irs = th.seq - 1
    cdef uint32_t cookie = th.ack - 1
    cdef uint32_t ws
    cdef TcpOptions o
    cdef Tcb *t
    if not syncookie_check(st, dst, src, th.dport, th.sport, irs, cookie):
        st.ctr[C_TCP_SYNCOOKIES_FAILED] += 1
        return NULL
    t = tcb_alloc(st)
    if t == NULL:
        return NULL
    # what the SYN said, as the cookie remembers it
    o.present = OPT_MSS
    o.mss = COOKIE_MSS[(cookie >> 5) & 7]
    ws = (cookie >> 1) & 15
    if ws != 15:
        o.present |= OPT_WSCALE
        o.wscale = <uint8_t>ws
    if cookie & 1:
        o.present |= OPT_SACK_PERM
    if th.opts.present & OPT_TIMESTAMP:
        o.present |= OPT_TIMESTAMP
        o.ts_val = th.opts.ts_val
    tcp_passive_init(st, t, lid, src, dst, src_mac, th.sport, th.dport, irs, cookie, &o)
    t.ts_offset = 0                     # the SYN-ACK's TSval used the bare clock
    t.snd_nxt = th.ack
    t.snd_max = th.ack
    ecn_cookie_restore(st, t, th)
    tcp_set_state(st, t, SYN_RECEIVED)
    st.listeners[lid].half_open += 1
    tcp_established(st, t, th, False)
    flow_insert(st, t)
    st.ctr[C_TCP_SYNCOOKIES_OK] += 1
    return t
