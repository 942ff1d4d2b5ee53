# TCP's answer to ICMP errors about its segments (the classifier hands them
# over once ip/icmp.pxi has read the quote): lower the MSS on "fragmentation
# needed" (RFC 1191), refuse a connection being opened on "port/protocol
# unreachable" (RFC 1122 4.2.3.9; soft errors otherwise, RFC 5461). The
# quoted sequence number must be in flight (RFC 5927 4.1) so that forged
# messages do little. Ten minutes after a reduction, the next ACK puts the
# MSS back to what the handshake gave (RFC 1191 6.3): segments that size
# leave with DF again, and if the path still cannot carry them its router
# says so and the MSS drops again.

cdef uint32_t PMTU_RAISE_S = 600

cdef void tcp_icmp_unreach(StackState *st, const IcmpQuote *q) noexcept nogil:
    cdef uint32_t id, mtu, mss
    cdef Tcb *t
    id = flow_lookup(st, q.laddr, q.raddr, q.rport, q.lport)
    if id == NC_BUF_NONE:
        return
    t = &st.tcbs[id]
    if not (seq_leq(t.snd_una, q.seq) and seq_lt(q.seq, t.snd_max)):
        return
    if q.code == 4:
        mtu = q.mtu
        if mtu < 68:
            mtu = 576                    # an old router that does not say: RFC 1191 plateau
        mss = mtu - tcp_ip_hlen(t.raddr) - TCP_HLEN - (12 if t.flags & TF_TS_OK else 0)
        if mss < 64:
            mss = 64
        if mss < t.mss:
            t.mss = <uint16_t>mss
            st.ctr[C_TCP_PMTU_UPDATES] += 1
            # RFC 1191 6.3: try the larger size again after 10 minutes
            t.pmtu_raise_s = <uint32_t>(st.now // 1000000000) + PMTU_RAISE_S
            if t.pmtu_raise_s == 0:
                t.pmtu_raise_s = 1
            # resend what no longer fits; a PMTU change is not congestion
            t.snd_nxt = t.snd_una
            tcp_schedule(st, t)
    elif (q.code == 2 or q.code == 3) and t.state == SYN_SENT:
        tcp_closed(st, t, _ECONNREFUSED)


cdef void tcp_pmtu_maybe_raise(StackState *st, Tcb *t) noexcept nogil:
    """Called on each ACK of new data: the reduction's 10 minutes are over."""
    if t.pmtu_raise_s and <uint32_t>(st.now // 1000000000) >= t.pmtu_raise_s:
        t.pmtu_raise_s = 0
        if t.mss < t.mss_full:
            t.mss = t.mss_full
            st.ctr[C_TCP_PMTU_RAISED] += 1
