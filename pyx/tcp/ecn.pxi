# Explicit Congestion Notification (RFC 3168), Stack(ecn=True); off by
# default. Negotiated on the handshake (SYN with ECE and CWR, SYN-ACK with
# ECE alone); then new data leaves as ECT(0), and a router's CE mark on it
# comes back as ECE on every ACK until the sender answers with CWR. The
# sender takes an ECE as it takes a loss, once per window of data, without
# retransmitting anything. Retransmissions, pure ACKs, SYNs and RSTs are
# not ECN-capable (RFC 3168 6.1.4, 6.1.5).
#
# A window probe (data beyond the peer's window) is not ECN-capable either.
#
# A SYN-cookie handshake keeps no state, and the cookie's own bits are
# taken (MSS, window scale, SACK): as Linux does (cookie_init_timestamp),
# the ECN acceptance rides in the low bit of the SYN-ACK's TSval, which the
# peer echoes in the TSecr of its ACK. Without timestamps there is nowhere to
# keep it: the SYN-ACK then does not accept ECN (no ECE), and the connection
# runs without it, as the peer then knows.


cdef inline void ecn_init(Tcb *t) noexcept nogil:
    t.ecn_recover = t.snd_una


cdef void ecn_syn_received(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """A passive open: the SYN offers ECN with ECE and CWR both set."""
    if st.cfg.ecn and (th.flags & (TCP_ECE | TCP_CWR)) == (TCP_ECE | TCP_CWR):
        t.flags |= TF_ECN_OK
        st.ctr[C_TCP_ECN_NEGOTIATED] += 1


cdef bint ecn_cookie_offer(const StackState *st, const TcpHdr *th, bint timestamps) noexcept nogil:
    """Accept the SYN's ECN offer in a cookie SYN-ACK? Only with timestamps,
    where ecn_cookie_tsval keeps the answer."""
    return (st.cfg.ecn and timestamps and
            (th.flags & (TCP_ECE | TCP_CWR)) == (TCP_ECE | TCP_CWR))


cdef uint32_t ecn_cookie_tsval(uint32_t ts, bint ecn) noexcept nogil:
    """The cookie SYN-ACK's TSval: the clock with its low bit saying ECN,
    never ahead of the clock (the connection's next TSval must not be lower,
    RFC 7323 PAWS)."""
    cdef uint32_t v = (ts & ~1u) | (1u if ecn else 0u)
    return v - 2 if <int32_t>(v - ts) > 0 else v


cdef void ecn_cookie_restore(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """The ACK of a cookie SYN-ACK: ECN is on if that SYN-ACK accepted it
    (the low bit of the TSval it echoes)."""
    if st.cfg.ecn and th.opts.present & OPT_TIMESTAMP and th.opts.ts_ecr & 1:
        t.flags |= TF_ECN_OK
        st.ctr[C_TCP_ECN_NEGOTIATED] += 1


cdef void ecn_syn_ack_received(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """An active open: the SYN-ACK accepts with ECE alone (ECE and CWR both
    set would be a reflected SYN, RFC 3168 6.1.1)."""
    t.flags &= ~TF_ECN_OK
    if st.cfg.ecn and (th.flags & (TCP_ECE | TCP_CWR)) == TCP_ECE:
        t.flags |= TF_ECN_OK
        st.ctr[C_TCP_ECN_NEGOTIATED] += 1


cdef void ecn_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """An acceptable segment arrived: CWR ends our ECE echo; CE on data
    starts it (and is ACKed at once, as Linux does, so the sender hears of
    it a delayed ACK sooner)."""
    if not (t.flags & TF_ECN_OK):
        return
    if th.flags & TCP_CWR:
        t.flags &= ~TF_ECE_PENDING
    if th.ip_ecn == 3 and th.payload_len:
        st.ctr[C_TCP_ECN_CE_SEEN] += 1
        t.flags |= TF_ECE_PENDING | TF_ACK_NOW
        tcp_schedule(st, t)


cdef void ecn_ack(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """An ACK with ECE: the congestion response of a loss, at most once per
    window (RFC 3168 6.1.2), none while loss recovery has already reduced."""
    if not (t.flags & TF_ECN_OK) or not (th.flags & TCP_ECE):
        return
    if t.in_recovery or not seq_geq(t.snd_una, t.ecn_recover):
        return
    cc_on_congestion(st, t)
    if t.cwnd > t.ssthresh:
        t.cwnd = t.ssthresh
    t.ecn_recover = t.snd_max
    t.flags |= TF_CWR_PENDING
    st.ctr[C_TCP_ECN_REDUCTIONS] += 1


cdef void ecn_output(StackState *st, Tcb *t, uint8_t *iph, uint8_t *th, uint32_t seq,
                     uint8_t flags, uint32_t dlen) noexcept nogil:
    """Mark one segment tcp_emit is building (headers written, checksums
    not yet): the SYN's offer, ECE on ACKs, CWR and ECT(0) on new data."""
    if flags & TCP_RST:
        return
    if flags & TCP_SYN:
        if t.state == SYN_SENT:
            if st.cfg.ecn:
                th[13] |= TCP_ECE | TCP_CWR
        elif t.flags & TF_ECN_OK:
            th[13] |= TCP_ECE
        return
    if not (t.flags & TF_ECN_OK):
        return
    if flags & TCP_ACK and t.flags & TF_ECE_PENDING:
        th[13] |= TCP_ECE
    if dlen and seq_geq(seq, t.snd_max) and seq_leq(seq + dlen, t.snd_una + t.snd_wnd):
        # new data, not a retransmission, nor a zero-window probe (beyond
        # the peer's window: RFC 3168 6.1.6)
        if t.flags & TF_CWR_PENDING:
            th[13] |= TCP_CWR
            t.flags &= ~TF_CWR_PENDING
        if addr_is_v6(t.raddr):
            iph[1] = (iph[1] & 0xCF) | (2 << 4)     # ECT(0): the traffic class's low bits
        else:
            iph[1] = (iph[1] & 0xFC) | 2            # ECT(0)
            iph[10] = 0
            iph[11] = 0
            store_csum(iph + 10, nc_csum_fold(nc_csum_partial(iph, IPV4_HLEN, 0)))
