# TCP output ("dispatch" in smoltcp's terms): build segments from the
# connection's state and its send window, and the RSTs for segments that
# have no connection.
#
# Stream offsets: offset 0 of the send window is sequence number iss + 1 and
# offset 0 of the receive window is irs + 1; windows count bytes in 64 bits so
# that a long connection never wraps them, while sequence numbers wrap mod 2^32.

cdef inline uint32_t tcp_rcv_space(const Tcb *t) noexcept nogil:
    """Free bytes in the receive window: from rcv_nxt up to the oldest byte
    the application still holds (unread, or viewed through recv_view).
    An unattached window is an empty one: its slot is taken when data comes,
    so the offer does not depend on it."""
    cdef uint64_t base = t.rcv.head if t.rcv.head < t.rcv_pin else t.rcv_pin
    cdef uint64_t used = t.rcv.tail - base
    if used >= t.rcv.size:
        return 0
    return <uint32_t>(t.rcv.size - used)


cdef inline uint32_t tcp_window_to_advertise(const Tcb *t) noexcept nogil:
    """Unscaled window to offer. Never moves the right edge left (RFC 9293
    3.8.6), and moves it right only by a useful amount: at least
    min(buffer / 2, MSS) (receiver SWS avoidance, RFC 9293 3.8.6.2.2)."""
    cdef uint32_t space = tcp_rcv_space(t)
    cdef uint32_t cur = t.rcv_adv - t.rcv_nxt if seq_gt(t.rcv_adv, t.rcv_nxt) else 0
    cdef uint32_t step = t.rcv.size // 2
    cdef uint32_t cap = <uint32_t>65535 << t.rcv_wscale
    cdef uint32_t win
    if step > t.mss:
        step = t.mss
    if space <= cur:
        win = cur
    elif space - cur >= step:
        win = space
    else:
        win = cur
    if win > cap:
        win = cap
    return win


cdef inline bint tcp_window_update_due(const Tcb *t) noexcept nogil:
    """Is a window update worth a segment? Only if the right edge we would
    advertise now (capped at 65535 << scale, rounded down to the scale)
    moves past RCV.ADV by min(buffer / 2, 2 MSS), or the advertised window
    had shrunk below one MSS (the sender may be stalled on it). And, as
    Linux's tcp_cleanup_rbuf, only once the window still offered is down to
    half the most we offer and the new one at least doubles it: before that
    the sender is not held back, and the ACKs of its data carry the new
    edge anyway (a read after every segment would otherwise cost the peer
    an extra ACK to process per segment) -- unless an ACK is owed anyway
    (delayed), which the update then is."""
    cdef uint32_t adv = t.rcv_adv - t.rcv_nxt if seq_gt(t.rcv_adv, t.rcv_nxt) else 0
    cdef uint32_t edge = t.rcv_nxt + ((tcp_window_to_advertise(t) >> t.rcv_wscale) << t.rcv_wscale)
    cdef uint32_t step = t.rcv.size // 2
    cdef uint64_t clamp = <uint64_t>65535 << t.rcv_wscale
    if step > 2 * <uint32_t>t.mss:
        step = 2 * t.mss
    if not seq_gt(edge, t.rcv_adv):
        return False
    if adv < t.mss:
        return True
    if t.flags & TF_DELACK and edge - t.rcv_adv >= step:
        # an ACK is owed anyway: the update is that ACK, sent now rather than
        # at the delayed-ACK timer (no extra segment; a sender whose flight
        # ended on an odd segment would otherwise wait out the timer)
        return True
    if clamp > t.rcv.size:
        clamp = t.rcv.size
    return (edge - t.rcv_adv >= step and 2 * <uint64_t>adv <= clamp
            and edge - t.rcv_nxt >= 2 * <uint64_t>adv)


cdef inline uint32_t tcp_ts_clock(const Tcb *t, uint64_t now) noexcept nogil:
    """The timestamp clock: 1 ms ticks (RFC 7323 5.4), offset per connection."""
    return <uint32_t>(now // 1000000) + t.ts_offset


cdef inline uint32_t tcp_fin_seq(const Tcb *t) noexcept nogil:
    """Sequence number our FIN takes: right after the last byte written."""
    return t.iss + 1 + <uint32_t>t.snd.tail


cdef inline uint64_t tcp_backed_off_rto(const StackState *st, const Tcb *t) noexcept nogil:
    """The RTO doubled once per back-off (RFC 6298 5.5), at most rto_max: one
    clamp for the retransmission and persist timers."""
    cdef uint64_t ival = t.rto << t.backoff if t.backoff < 24 else st.cfg.rto_max_ns
    if ival > st.cfg.rto_max_ns:
        ival = st.cfg.rto_max_ns
    return ival


cdef inline void tcp_arm_rexmt(StackState *st, Tcb *t) noexcept nogil:
    t.t_rexmt = st.now + tcp_backed_off_rto(st, t)
    t.rexmt_kind = TK_RTO


cdef void tcp_syn_options(const StackState *st, TcpOptions *o, uint16_t mss, uint8_t wscale,
                          uint32_t offer) noexcept nogil:
    """The options a SYN or SYN-ACK carries, chosen in one place (tcp_emit and
    the stateless SYN cookie reply): MSS always; window scale, SACK-permitted
    and timestamps where the stack allows them and `offer` (OPT_* bits) asks
    for them. The caller fills in the timestamp values."""
    o.present = OPT_MSS
    o.sack_count = 0
    o.mss = mss
    if st.cfg.window_scaling and offer & OPT_WSCALE:
        o.present |= OPT_WSCALE
        o.wscale = wscale
    if st.cfg.sack and offer & OPT_SACK_PERM:
        o.present |= OPT_SACK_PERM
    if st.cfg.timestamps and offer & OPT_TIMESTAMP:
        o.present |= OPT_TIMESTAMP


cdef bint tcp_emit(StackState *st, Tcb *t, uint32_t seq, uint8_t flags, uint64_t data_off,
                   uint32_t dlen) noexcept nogil:
    """Build and send one segment of this connection. False if no buffer."""
    return tcp_emit_frame(st, t, seq, flags, data_off, dlen, 0)


cdef bint tcp_emit_frame(StackState *st, Tcb *t, uint32_t seq, uint8_t flags, uint64_t data_off,
                         uint32_t dlen, uint32_t gso) noexcept nogil:
    """tcp_emit, or with gso (the segment size, dlen > gso: tcp_tso_room
    said yes) a super-frame: the headers of its first segment, IP length
    and checksum for the whole, and the payload left in the send window for
    the port to gather (NC_BUF_F_TX_REF); the port's segmentation cuts it
    into the segments tcp_emit would have built, PSH and FIN on the last."""
    cdef uint32_t b = tx_alloc(st)
    cdef nc_buf *nb
    cdef uint8_t *p
    cdef uint8_t *iph
    cdef uint8_t *th
    cdef TcpOptions o
    cdef uint32_t win, hl, wfield, offer, nsegs = 1
    cdef bint ref = False
    if b == NC_BUF_NONE:
        return False
    nb = nc_port_buf(st.port, b)
    p = nc_buf_data(nb)
    iph = tcp_frame_start(st, p, ZERO_MAC, t.raddr)
    th = iph + tcp_ip_hlen(t.raddr)
    o.present = 0
    o.sack_count = 0
    win = tcp_window_to_advertise(t)
    if flags & TCP_SYN:
        if t.state == SYN_SENT:
            offer = OPT_WSCALE | OPT_SACK_PERM | OPT_TIMESTAMP
        else:       # our SYN-ACK answers what the peer's SYN offered (tcp_negotiate)
            offer = ((OPT_WSCALE if t.flags & TF_WS_OK else 0) |
                     (OPT_SACK_PERM if t.flags & TF_SACK_OK else 0) |
                     (OPT_TIMESTAMP if t.flags & TF_TS_OK else 0))
        tcp_syn_options(st, &o, t.adv_mss, t.rcv_wscale, offer)
        wfield = win if win < 65535 else 65535      # SYN windows are never scaled
    else:
        wfield = win >> t.rcv_wscale
        if t.flags & TF_SACK_OK and flags & TCP_ACK and not (flags & TCP_RST):
            tcp_sack_fill(t, &o)
    if o.present & OPT_TIMESTAMP or (not (flags & TCP_SYN) and t.flags & TF_TS_OK):
        o.present |= OPT_TIMESTAMP
        o.ts_val = tcp_ts_clock(t, st.now)
        o.ts_ecr = t.ts_recent if flags & TCP_ACK else 0
    hl = tcp_write_header(th, t.lport, t.rport, seq, t.rcv_nxt if flags & TCP_ACK else 0,
                          flags, <uint16_t>wfield, &o)
    if <uint32_t>(th - iph) + hl + (gso if gso else dlen) > st.mtu:
        # the callers size dlen (gso) with tcp_data_room; a frame past the
        # MTU would overrun the link's buffer (the peer reads it by index)
        st.ctr[C_TCP_OVER_MTU] += 1
        st.port.ops.free_burst(st.port, &b, 1)
        return False
    if gso:
        nb.user[0] = <uint64_t><size_t>window_at(&t.snd, data_off)
        nb.user[1] = dlen
        nb.user[2] = gso
        nb.flags |= NC_BUF_F_TX_REF
        nsegs = (dlen + gso - 1) // gso
    elif dlen >= TCP_REF_MIN_PAYLOAD and tcp_peer_reads_in_place(st, t):
        # the shm peer reads the payload where it is (mem/peer_windows.pxi)
        ref = True
        nb.user[0] = <uint64_t><size_t>window_at(&t.snd, data_off)
        nb.user[1] = dlen
        nb.user[2] = <uint32_t>st.board_key
        nb.user[3] = <uint16_t>st.snd_arena.gens[t.snd.slot]
        nb.flags |= NC_BUF_F_PAYLOAD_REF
        st.ctr[C_TCP_REF_SEGMENTS] += 1
    elif dlen:
        memcpy(th + hl, window_at(&t.snd, data_off), dlen)
    tcp_ip_finish(st, iph, t.laddr, t.raddr, t.lport, t.rport, hl + dlen, True)
    ecn_output(st, t, iph, th, seq, flags, dlen)    # ECN marks (tcp/ecn.pxi)
    if st.port.caps & NC_CAP_CSUM_TRUSTED:
        nb.flags |= NC_BUF_F_CSUM_OK    # the shm peer trusts it (no checksum pass)
    else:
        tcp_ip_checksum(iph, t.raddr, hl + dlen)
    if gso:
        if not addr_is_v6(t.raddr):
            st.ip_ident += nsegs - 1    # segmentation numbers each segment on from the first
        st.ctr[C_TCP_TSO_FRAMES] += 1
        st.ctr[C_TCP_TSO_SEGMENTS] += nsegs
    nb.len = <uint32_t>(th - p) + hl + (0 if gso or ref else dlen)  # by reference: the headers alone
    if flags & TCP_ACK:
        t.flags &= ~(TF_ACK_NOW | TF_DELACK | TF_WND_UPDATE)
        t.t_delack = 0
        t.segs_unacked = 0
        t.dsack_pending = 0
        if flags & TCP_SYN:
            t.rcv_adv = t.rcv_nxt + wfield
        elif seq_gt(t.rcv_nxt + (wfield << t.rcv_wscale), t.rcv_adv):
            t.rcv_adv = t.rcv_nxt + (wfield << t.rcv_wscale)
    st.ctr[C_TCP_SEGS_OUT] += nsegs
    st.ctr[C_TCP_DATA_OUT_BYTES] += dlen
    tcp_ip_send_cached(st, b, t.raddr, t.rmac, &t.rmac_gen)
    return True


cdef inline void tcp_send_ack(StackState *st, Tcb *t) noexcept nogil:
    tcp_emit(st, t, t.snd_nxt, TCP_ACK, 0, 0)


cdef void tcp_send_rst(StackState *st, Tcb *t) noexcept nogil:
    """Abort: RST at snd_nxt (RFC 9293 3.10.4 ABORT)."""
    tcp_emit(st, t, t.snd_nxt, TCP_RST | TCP_ACK, 0, 0)
    st.ctr[C_TCP_RST_SENT] += 1


cdef bint tcp_reply_stateless(StackState *st, uint32_t laddr, uint32_t raddr,
                              const uint8_t *dst_mac, uint16_t lport, uint16_t rport,
                              uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
                              const TcpOptions *o) noexcept nogil:
    """A segment that belongs to no control block (a RST for a stray
    segment, a SYN-cookie SYN-ACK), sent straight back to the sender's MAC."""
    cdef uint32_t b = tx_alloc(st)
    cdef nc_buf *nb
    cdef uint8_t *p
    cdef uint8_t *iph
    cdef uint8_t *tcp
    cdef uint32_t hl
    if b == NC_BUF_NONE:
        return False
    nb = nc_port_buf(st.port, b)
    p = nc_buf_data(nb)
    iph = tcp_frame_start(st, p, dst_mac, raddr)
    tcp = iph + tcp_ip_hlen(raddr)
    hl = tcp_write_header(tcp, lport, rport, seq, ack, flags, window, o)
    tcp_ip_finish(st, iph, laddr, raddr, lport, rport, hl, False)
    nb.len = <uint32_t>(tcp - p) + hl
    if addr_is_v6(raddr):
        st.ctr[C_TX_IPV6] += 1
    tx_enqueue(st, b)
    return True


cdef void tcp_reply_rst(StackState *st, const Ipv4Hdr *ip, const TcpHdr *th,
                        const uint8_t *src_mac) noexcept nogil:
    """The RST for a segment that matches no connection (RFC 9293 3.10.7.1).
    Never in answer to a RST."""
    cdef uint32_t seg_len, seq, ack
    cdef uint8_t flags
    if th.flags & TCP_RST:
        return
    if th.flags & TCP_ACK:
        seq = th.ack
        ack = 0
        flags = TCP_RST
    else:
        seg_len = th.payload_len + (1 if th.flags & TCP_SYN else 0) + (1 if th.flags & TCP_FIN else 0)
        seq = 0
        ack = th.seq + seg_len
        flags = TCP_RST | TCP_ACK
    if tcp_reply_stateless(st, ip.dst, ip.src, src_mac, th.dport, th.sport, seq, ack, flags, 0, NULL):
        st.ctr[C_TCP_RST_SENT] += 1


cdef inline bint tcp_nagle_allows(const Tcb *t, uint32_t n, uint32_t avail, bint idle,
                                  uint32_t full) noexcept nogil:
    """Send a segment shorter than a full one (`full`: the MSS less this
    segment's SACK blocks)? (RFC 9293 3.8.6.2.1 sender SWS avoidance with
    Nagle's algorithm, RFC 1122 4.2.3.4)"""
    if n >= full:
        return True
    if n == avail and (idle or t.flags & TF_NODELAY):
        return True                 # everything queued, and nothing unacked (or Nagle off)
    if n >= t.max_snd_wnd // 2 and t.max_snd_wnd:
        return True                 # at least half the largest window the peer offered
    return False


cdef inline bint tcp_peer_reads_in_place(const StackState *st, const Tcb *t) noexcept nogil:
    """May a segment of t leave its payload in the send window for the shm
    peer to read there? When the peer has mapped our send arena (it says so
    on its window board: iface/shared_windows.pxi), over IPv4, and the port
    trusts the peer with the checksum (there is no payload to sum)."""
    return (st.board_me != NULL and
            nc_load_acquire_u64(&st.board_peer.mapped) == st.board_key and
            st.port.caps & NC_CAP_CSUM_TRUSTED and not addr_is_v6(t.raddr))


cdef inline uint32_t tcp_tso_room(const StackState *st, const Tcb *t, uint32_t room) noexcept nogil:
    """The most new data one super-frame may carry (a whole number of
    segments of `room` bytes, the IP packet within 64 KiB), or 0 when the
    next segment must be an ordinary one: the port cannot take payload by
    reference (NC_CAP_TX_REF); the next hop's MAC is not cached (the frame
    would wait in the neighbour queue, past the batch that must send it
    before the window may change); the data was sent before (after an RTO
    rewound SND.NXT: one segment at a time then anyway); or a CWR mark is
    due (segmentation would copy it onto every segment)."""
    if (not (st.port.caps & NC_CAP_TX_REF) or t.rmac_gen != st.arp_gen or
            t.snd_nxt != t.snd_max or t.flags & TF_CWR_PENDING or room == 0):
        return 0
    return (TCP_TSO_MAX_PAYLOAD // room) * room


cdef bint tcp_send_new(StackState *st, Tcb *t, uint32_t limit) noexcept nogil:
    """Send one segment of new data (or the FIN) if the limits, Nagle and the
    windows allow; `limit` caps the bytes in flight it may add. True if sent."""
    cdef uint32_t fin_seq = tcp_fin_seq(t)
    cdef uint64_t off_nxt = t.snd.head + <uint32_t>(t.snd_nxt - t.snd_una)
    cdef uint32_t avail = <uint32_t>(t.snd.tail - off_nxt) if t.snd.tail > off_nxt else 0
    cdef uint32_t inflight = t.snd_nxt - t.snd_una
    cdef uint32_t rwnd_left = t.snd_wnd - inflight if t.snd_wnd > inflight else 0
    cdef uint32_t n = avail
    cdef uint32_t room = tcp_data_room(t)
    cdef uint32_t tso = tcp_tso_room(st, t, room)
    cdef uint32_t gso = 0, tail
    cdef uint8_t flags = TCP_ACK
    cdef bint fin
    if n > rwnd_left:
        n = rwnd_left
    if n > limit:
        n = limit
    if tso and n > room:
        # several segments in one super-frame; its short last one only if
        # Nagle would send it after the full ones (nothing idle by then)
        if n > tso:
            n = tso
        tail = n % room
        if tail and not tcp_nagle_allows(t, tail, avail - (n - tail), False, room):
            n -= tail
        if n > room:
            gso = room
    elif n > room:
        n = room
    fin = (t.flags & TF_FIN_QUEUED) != 0 and t.snd_nxt + n == fin_seq
    if n == 0 and not fin:
        return False
    if n and not fin and not tcp_nagle_allows(t, n, avail, t.snd_nxt == t.snd_una, room):
        return False
    if n and n == avail:
        flags |= TCP_PSH
    if fin:
        flags |= TCP_FIN
    if not tcp_emit_frame(st, t, t.snd_nxt, flags, off_nxt, n, gso):
        return False
    seg_sent(st, t, t.snd_nxt, n, seq_lt(t.snd_nxt, t.snd_max))     # RACK's send times (tcp/segring.pxi)
    if seq_lt(t.snd_nxt, t.snd_max):
        st.ctr[C_TCP_RETRANSMITS] += 1     # resent after an RTO rewound snd_nxt
        t.retransmits += 1
    elif t.rtt_start == 0 and n:
        t.rtt_start = st.now        # Karn: time only new data
        t.rtt_seq = t.snd_nxt
    t.snd_nxt += n + (1 if fin else 0)
    if seq_gt(t.snd_nxt, t.snd_max):
        t.snd_max = t.snd_nxt
    if fin:
        t.flags |= TF_FIN_SENT
    if t.t_rexmt == 0 or t.rexmt_kind == TK_PTO:
        tcp_arm_loss_timer(st, t)   # a new tail moves the probe (tcp/rack.pxi)
    t.t_persist = 0
    return True


cdef void tcp_send_owed(StackState *st, Tcb *t) noexcept nogil:
    """Send at once what input recorded as owed (input never sends): the RST
    answering an unacceptable ACK, the fast retransmission of the first
    unacknowledged segment (entering recovery, or a NewReno partial ACK)."""
    if t.flags & TF_RST_REPLY:
        t.flags &= ~TF_RST_REPLY
        tcp_emit(st, t, t.rst_seq, TCP_RST, 0, 0)
        st.ctr[C_TCP_RST_SENT] += 1
    if t.flags & TF_REXMT_FIRST:
        t.flags &= ~TF_REXMT_FIRST
        tcp_retransmit_first(st, t)


cdef void tcp_input(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil:
    """One arriving segment for connection t (found by the classifier), as
    smoltcp's interface drives a socket: input changes the state, then what
    it owes goes out. The owed segment is sent between the ACK step and the
    text step, where input used to send it itself, so that its ACK field and
    the ACKs that follow stay what they were."""
    cdef bint more = tcp_process(st, t, th)
    tcp_send_owed(st, t)
    if more:
        tcp_process_text(st, t, th)


cdef bint tcp_output_sack_recovery(StackState *st, Tcb *t) noexcept nogil:
    """RFC 6675 5 step (C): while cwnd - pipe >= 1 SMSS, send NextSeg."""
    cdef uint32_t pipe = sack_pipe(st, t)
    cdef uint32_t seq, length, span, nxt
    cdef bint sent = False
    while t.cwnd >= pipe + t.mss:
        if sack_next_hole(st, t, &seq, &length):
            span = tcp_retransmit_range(st, t, seq, length)
            if span == 0:
                break
            t.high_rxt = seq + span
            if seq_lt(t.snd_nxt, t.high_rxt):
                t.snd_nxt = t.high_rxt
            pipe += span
            sent = True
            continue
        nxt = t.snd_nxt
        if tcp_send_new(st, t, t.cwnd - pipe):
            prr_sent(t, t.snd_nxt - nxt)
            pipe = sack_pipe(st, t)
            sent = True
            continue
        if sack_next_rule3(t, &seq, &length):
            span = tcp_retransmit_range(st, t, seq, length)
            if span == 0:
                break
            t.high_rxt = seq + span
            pipe += span
            sent = True
            continue
        if rescue_range(t, &seq, &length):
            t.rack_flags |= RK_RESCUED
            span = tcp_retransmit_range(st, t, seq, length)
            if span:
                st.ctr[C_TCP_RESCUE_RETRANSMITS] += 1
                pipe += span
                sent = True
                continue
        break
    return sent


cdef void tcp_output(StackState *st, Tcb *t) noexcept nogil:
    """Send everything the windows allow, then an ACK if one is owed and no
    segment carried it. t is not CLOSED (stack_output skips those)."""
    cdef uint32_t wnd, inflight
    cdef uint64_t off_nxt
    cdef bint sent = False
    cdef uint8_t s = t.state
    if s == TIME_WAIT:
        if t.flags & TF_ACK_NOW:
            tcp_send_ack(st, t)
        return
    if t.flags & TF_RST_PENDING:
        t.flags &= ~TF_RST_PENDING
        tcp_send_rst(st, t)
        tcp_closed(st, t, 0)        # a reset connection is gone (RFC 9293 3.10.4 ABORT)
        return
    if s == SYN_SENT or s == SYN_RECEIVED:
        if t.snd_nxt == t.iss:
            tcp_emit(st, t, t.iss, TCP_SYN if s == SYN_SENT else TCP_SYN | TCP_ACK, 0, 0)
            t.snd_nxt = t.iss + 1
            if seq_gt(t.snd_nxt, t.snd_max):
                t.snd_max = t.snd_nxt
            if t.t_rexmt == 0:
                tcp_arm_rexmt(st, t)
            timer_rearm(st, t)
        elif t.flags & TF_ACK_NOW and s == SYN_RECEIVED:
            tcp_emit(st, t, t.iss, TCP_SYN | TCP_ACK, 0, 0)
        return
    if s == ESTABLISHED or s == CLOSE_WAIT or s == FIN_WAIT_1 or s == CLOSING or s == LAST_ACK:
        if t.in_recovery == REC_SACK:
            sent = tcp_output_sack_recovery(st, t)
        else:
            while True:
                inflight = t.snd_nxt - t.snd_una
                wnd = t.cwnd + t.lt_allow
                if t.flags & TF_FORCE_ONE and not sent:
                    wnd = inflight + t.mss
                if not tcp_send_new(st, t, wnd - inflight if wnd > inflight else 0):
                    break
                sent = True
        t.flags &= ~TF_FORCE_ONE
        # data waiting, nothing in flight to time it, and no room to send it
        # (a zero window, or one too small to use: SWS avoidance): probe
        # later, or a lost window update would stall us forever
        # (RFC 9293 3.8.6.1, RFC 1122 4.2.3.4 override timeout)
        off_nxt = t.snd.head + <uint32_t>(t.snd_nxt - t.snd_una)
        if (not sent and t.snd.tail > off_nxt and t.t_rexmt == 0 and
                t.t_persist == 0):
            t.t_persist = st.now + tcp_backed_off_rto(st, t)
    if not sent and t.flags & (TF_ACK_NOW | TF_WND_UPDATE):
        tcp_send_ack(st, t)
    timer_rearm(st, t)


cdef void tcp_send_keepalive(StackState *st, Tcb *t) noexcept nogil:
    """RFC 9293 3.8.4 / RFC 1122 4.2.3.6: an ACK with SEG.SEQ = SND.NXT - 1 and
    no data, which the peer must answer with an ACK."""
    tcp_emit(st, t, t.snd_nxt - 1, TCP_ACK, 0, 0)
    st.ctr[C_TCP_KEEPALIVE_PROBES] += 1


cdef uint32_t tcp_retransmit_range(StackState *st, Tcb *t, uint32_t seq, uint32_t maxlen) noexcept nogil:
    """Resend up to min(maxlen, tcp_data_room) bytes from seq (>= snd_una), with the
    FIN if it falls inside; returns the sequence space sent (0 if none)."""
    cdef uint64_t off = t.snd.head + <uint32_t>(seq - t.snd_una)
    cdef uint32_t n = <uint32_t>(t.snd.tail - off) if t.snd.tail > off else 0
    cdef uint8_t flags = TCP_ACK
    cdef uint32_t span, room
    if t.state == SYN_SENT or t.state == SYN_RECEIVED:
        return 0        # the SYN is retransmitted by tcp_output (not SND.UNA == ISS:
                        # that holds again after 2^32 bytes)
    if n > <uint32_t>(t.snd_max - seq):
        n = t.snd_max - seq     # only what was sent: new data is tcp_send_new's (window, snd_max)
    if n > maxlen:
        n = maxlen
    room = tcp_data_room(t)
    if n > room:
        n = room
    if (t.flags & TF_FIN_SENT) and seq + n == tcp_fin_seq(t) and seq_lt(seq + n, t.snd_max):
        flags |= TCP_FIN
    if n == 0 and not (flags & TCP_FIN):
        return 0
    if n and off + n == t.snd.tail:
        flags |= TCP_PSH
    if not tcp_emit(st, t, seq, flags, off, n):
        return 0
    st.ctr[C_TCP_RETRANSMITS] += 1
    t.retransmits += 1
    rack_note_retransmit(st, t, seq, n)
    prr_sent(t, n)
    span = n + (1 if flags & TCP_FIN else 0)
    return span


cdef void tcp_retransmit_first(StackState *st, Tcb *t) noexcept nogil:
    """Resend the first unacknowledged segment, whatever the windows say
    (it was inside them when first sent)."""
    cdef uint32_t span = tcp_retransmit_range(st, t, t.snd_una, t.mss)
    if span and seq_lt(t.snd_nxt, t.snd_una + span):
        t.snd_nxt = t.snd_una + span
    if span and seq_lt(t.high_rxt, t.snd_una + span):
        t.high_rxt = t.snd_una + span
