# Test hooks: build a connection directly in any TCP state (smoltcp's style
# of packet-level tests), and seed the ARP cache. Not for applications: they
# bypass the handshake and create state no real exchange produced.

_STATE_BY_NAME = {name: i for i, name in enumerate(TCP_STATE_NAMES)}


def debug_arp_add(Stack stack, ip, mac):
    """Put ip -> mac in the stack's ARP cache (resolved, fresh)."""
    stack._check_open()
    cdef StackState *st = stack.st
    cdef uint32_t a = _ip_to_u32(ip)
    cdef bytes m = bytes.fromhex(mac.replace(":", "")) if isinstance(mac, str) else bytes(mac)
    if len(m) != 6:
        raise ValueError(f"bad MAC {mac!r}")
    stack_set_now(st, stack._now())
    arp_resolved(st, arp_slot_for(st, a), <const uint8_t *>m)
    stack._kick()


def debug_connection(Stack stack, str state, int local_port, remote, *, uint32_t iss,
                     uint32_t irs, uint32_t snd_wnd=65535, int peer_mss=1460,
                     snd_wscale=None, rcv_wscale=None, ts_recent=None, sack=False,
                     rto=None, cc=None, quickack=0, nodelay=None):
    """A Connection in `state` (an RFC 9293 state name) on local_port with
    the peer at remote=(ip, port), as if the handshake had happened with our
    ISS `iss` and the peer's ISS `irs`:

    - SYN_SENT: our SYN is out (snd_nxt = iss + 1), nothing received.
    - SYN_RECEIVED: the peer's SYN arrived, our SYN-ACK is out.
    - ESTABLISHED and later: snd_una = snd_nxt = iss + 1, rcv_nxt = irs + 1, no
      data. States after our FIN (FIN_WAIT_1, CLOSING, LAST_ACK) have the FIN
      at iss + 1 and unacked (snd_nxt = iss + 2); FIN_WAIT_2 and TIME_WAIT have
      it acked. States after the peer's FIN (CLOSE_WAIT, CLOSING, LAST_ACK,
      TIME_WAIT) have rcv_nxt = irs + 2.

    Window scaling is on when snd_wscale/rcv_wscale are given, timestamps
    when ts_recent is given (the peer's last TSval), SACK when sack=True.
    No timer is armed except what the state needs (TIME_WAIT's 2MSL, the
    retransmission timer when something is unacked). quickack is the
    number of segments still ACKed at once (0: plain delayed ACKs); nodelay
    overrides the stack's Nagle default."""
    stack._check_open()
    cdef uint8_t s = debug_state_id(state)
    cdef StackState *st = stack.st
    rhost, rport = remote
    cdef uint32_t raddr = _ip_to_u32(rhost)
    if flow_lookup(st, st.ip, raddr, rport, local_port) != NC_BUF_NONE:
        raise _os_error(_EADDRINUSE, "that 4-tuple already has a connection")
    stack_set_now(st, stack._now())
    cdef Tcb *t = debug_build_tcb(st, s, raddr, local_port, rport, iss, irs, snd_wnd,
                                  peer_mss, snd_wscale, rcv_wscale, ts_recent, sack, rto,
                                  cc, quickack, nodelay)
    return stack._wrap(t)


cdef uint8_t debug_state_id(str state) except 0xff:
    """The state number of a name debug_connection can build (not CLOSED
    or LISTEN)."""
    if state not in _STATE_BY_NAME or state in ("CLOSED", "LISTEN"):
        raise ValueError(f"state must be one of {TCP_STATE_NAMES[2:]}, not {state!r}")
    return _STATE_BY_NAME[state]


cdef Tcb *debug_build_tcb(StackState *st, uint8_t s, uint32_t raddr, int local_port, int rport,
                          uint32_t iss, uint32_t irs, uint32_t snd_wnd, int peer_mss,
                          snd_wscale, rcv_wscale, ts_recent, sack, rto, cc, quickack,
                          nodelay) except NULL:
    """The part of debug_connection that needs no Stack object (shared with
    TcbHarness, testing/tcb_harness.pxi): allocate a control block from st
    (at st.now, our address st.ip), fill it in as state `s` after the
    handshake, put it in the flow table and on the timer wheel."""
    cdef Tcb *t = tcb_alloc(st)
    if t == NULL:
        raise _os_error(_errno.ENOBUFS, "no free connection")
    tcp_open_tcb(st, t, st.ip, raddr, local_port, rport, iss)
    t.irs = irs
    t.rcv_wscale = 0                    # set below when scaling is asked for
    if rto is not None:
        t.rto = <uint64_t>(float(rto) * 1e9)
    t.ts_offset = 0                     # tests read TSval as the clock in ms
    if snd_wscale is not None or rcv_wscale is not None:
        t.flags |= TF_WS_OK
        t.snd_wscale = int(snd_wscale or 0)
        t.rcv_wscale = int(rcv_wscale or 0)
    if ts_recent is not None:
        t.flags |= TF_TS_OK
        t.ts_recent = int(ts_recent)
        t.ts_recent_at = st.now
    if sack:
        t.flags |= TF_SACK_OK
    mss = min(int(peer_mss), st.mtu - IPV4_HLEN - TCP_HLEN) - (12 if ts_recent is not None else 0)
    t.mss = <uint16_t>mss
    t.mss_full = t.mss
    t.snd_una = iss + 1
    t.snd_nxt = iss + 1
    t.snd_max = iss + 1
    t.rcv_nxt = irs + 1
    t.rcv_adv = irs + 1
    t.snd_wnd = snd_wnd
    t.max_snd_wnd = snd_wnd
    t.snd_wl1 = irs + 1
    t.snd_wl2 = iss + 1
    tcp_init_cc(st, t)
    t.quickack = <uint8_t>quickack
    if cc is not None:
        tcp_set_cc(t, cc)
    if nodelay is not None:
        if nodelay:
            t.flags |= TF_NODELAY
        else:
            t.flags &= ~TF_NODELAY
    if s == SYN_SENT:
        t.snd_una = iss
        t.rcv_nxt = 0
        t.rcv_adv = 0
        t.snd_wnd = 0
        t.flags &= ~(TF_WS_OK | TF_TS_OK | TF_SACK_OK)
    elif s == SYN_RECEIVED:
        t.snd_una = iss
        t.flags |= TF_PASSIVE
    if s in (FIN_WAIT_1, CLOSING, LAST_ACK, FIN_WAIT_2, TIME_WAIT):
        t.flags |= TF_FIN_QUEUED | TF_FIN_SENT
        t.snd_nxt = iss + 2
        t.snd_max = iss + 2
        if s == FIN_WAIT_2 or s == TIME_WAIT:
            t.snd_una = iss + 2
    if s in (CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT):
        t.flags |= TF_RCVD_FIN
        t.rcv_nxt = irs + 2
        t.rcv_adv = irs + 2
        t.fin_off = 0
    if s == TIME_WAIT:
        t.t_2msl = st.now + 2 * st.cfg.msl_ns
    elif t.snd_una != t.snd_max:
        tcp_arm_rexmt(st, t)
    tcp_set_state(st, t, s)
    flow_insert(st, t)
    timer_rearm(st, t)
    return t


def debug_tcb_set(Connection conn, *, iss=None, recover=None, ecn_recover=None):
    """Rewrite sequence marks of a connection's control block, as if it had
    sent 2^32 bytes more (iss) or its last loss recovery had ended long ago
    (recover, ecn_recover), states a test cannot reach by sending that much."""
    cdef Tcb *t = conn._t()
    if iss is not None:
        t.iss = <uint32_t>(iss & 0xffffffff)
    if recover is not None:
        t.recover = <uint32_t>(recover & 0xffffffff)
    if ecn_recover is not None:
        t.ecn_recover = <uint32_t>(ecn_recover & 0xffffffff)


def debug_tcb(Connection conn):
    """Every field of the connection's control block, raw (for tests)."""
    return debug_tcb_fields(conn._t())


def debug_seg_ring(Connection conn):
    """RACK's transmit records of the connection (tcp/segring.pxi), None
    without a send window slot: {"rack": (xmit_us, end, rtt_us, fack) or
    None, "runs": [(start, end, xmit_us, "rxt"/"lost"/"sacked" flags)]}."""
    cdef const Tcb *t = conn._t()
    cdef const SegRing *g = seg_ring(conn.st, t)
    cdef uint32_t i, start
    if g == NULL:
        return None
    runs = []
    start = t.snd_una
    for i in range(g.n):
        f = g.flags[i]
        runs.append((start, g.r[i].end, g.r[i].xmit_us,
                     "".join(c for c, b in (("r", SR_RXT), ("l", SR_LOST), ("s", SR_SACKED)) if f & b)))
        start = g.r[i].end
    return {"rack": (g.rack_xmit_us, g.rack_end, g.rack_rtt_us, g.rack_fack) if g.has_rack else None,
            "runs": runs}


cdef dict debug_tcb_fields(const Tcb *t):
    """debug_tcb's dict for any control block (also TcbHarness.tcb)."""
    return {
        "state": TCP_STATE_NAMES[t.state], "flags": t.flags,
        "iss": t.iss, "snd_una": t.snd_una, "snd_nxt": t.snd_nxt, "snd_max": t.snd_max,
        "snd_wnd": t.snd_wnd, "snd_wl1": t.snd_wl1, "snd_wl2": t.snd_wl2,
        "irs": t.irs, "rcv_nxt": t.rcv_nxt, "rcv_adv": t.rcv_adv,
        "snd_wscale": t.snd_wscale, "rcv_wscale": t.rcv_wscale, "mss": t.mss,
        "ts_recent": t.ts_recent, "cwnd": t.cwnd, "ssthresh": t.ssthresh,
        "dupacks": t.dupacks, "recover": t.recover,
        "srtt": t.srtt, "rttvar": t.rttvar, "rto": t.rto, "backoff": t.backoff,
        "retries": t.retries,
        "t_rexmt": t.t_rexmt, "t_delack": t.t_delack, "t_2msl": t.t_2msl,
        "t_persist": t.t_persist, "t_keep": t.t_keep,
        "ooo": [(t.ooo_start[i], t.ooo_end[i]) for i in range(t.ooo_n)],
        "snd_head": t.snd.head, "snd_tail": t.snd.tail,
        "rcv_head": t.rcv.head, "rcv_tail": t.rcv.tail,
        "chan_leased": t.chan != 0,
        "rack_flags": t.rack_flags,
        "rexmt_kind": ("rto", "pto", "reo")[t.rexmt_kind], "reo_mult": t.reo_mult,
        "min_rtt_us": t.min_rtt_us, "tlp_end": t.tlp_end,
    }


def debug_time_wait(Stack stack):
    """The stack's TIME_WAIT records, oldest first: [{"local_port", "remote",
    "snd_nxt", "rcv_nxt", "rcv_wnd", "timestamps", "ts_recent", "expires"}]."""
    stack._check_open()
    cdef StackState *st = stack.st
    cdef uint32_t id = st.tw_head
    cdef TwRecord *r
    out = []
    while id != NC_BUF_NONE:
        r = &st.tw[id]
        out.append({"local_port": r.lport, "remote": (_u32_to_ip(r.raddr), r.rport),
                    "snd_nxt": r.snd_nxt, "rcv_nxt": r.rcv_nxt, "rcv_wnd": r.rcv_wnd,
                    "timestamps": bool(r.flags & TW_TS), "ts_recent": r.ts_recent,
                    "expires": r.expires})
        id = r.next
    return out


def debug_sizes():
    """Sizes of the C structures memory per connection is made of (bytes)."""
    return {"Tcb": sizeof(Tcb), "SegRing": sizeof(SegRing), "TwRecord": sizeof(TwRecord),
            "Window": sizeof(Window),
            "channel": nc_ring_memsize(CHAN_SIZE), "channel_pool": CHAN_POOL,
            "FlowSlot": sizeof(FlowSlot)}


def window_map_budget(slots=None):
    """(budget, mapped): the window slots every arena of this process may map
    and how many are mapped now. slots: set the budget (0: vm.max_map_count's
    share again)."""
    if slots is not None:
        arena_set_map_budget(<uint64_t>slots)
    return arena_map_budget(), arena_maps_in_process()


def debug_shared_windows(Stack stack):
    """The stack's side of send windows read in place (mem/peer_windows.pxi):
    what it published (key = pid << 32 | epoch, the send arena's address and
    slot size) and the peer arenas it has mapped."""
    cdef StackState *st = stack.st
    cdef PeerWindows *pw
    sets = []
    for k in range(PEER_WINDOW_SETS):
        pw = &st.peer_wins[k]
        sets.append({"key": pw.key, "peer_va": pw.peer_va, "slot_size": pw.slot_size,
                     "max_slots": pw.max_slots, "in_use": pw.in_use})
    return {"shared": st.board_me != NULL, "key": st.board_key,
            "va": <uint64_t><size_t>st.snd_arena.va, "slot_size": st.snd_arena.slot_size,
            "peer_mapped": st.board_peer.mapped if st.board_me != NULL else 0,
            "cur": st.peer_win_cur, "sets": sets}


def debug_send_slot(Connection conn):
    """(slot, generation, held by the peer) of the connection's send window,
    None while it has no slot."""
    cdef const Tcb *t = conn._t()
    cdef Arena *a = &conn.st.snd_arena
    if t.snd.base == NULL:
        return None
    return (t.snd.slot, a.gens[t.snd.slot] if a.gens != NULL else 0,
            bool(arena_peer_holds(a, t.snd.slot)))


def debug_send_ref_frame(Port port, frame, uint64_t addr, uint32_t length, uint64_t epoch,
                         uint32_t gen, bint csum_ok=True):
    """Send `frame` (its headers) as a shm sender sends a segment whose
    payload stays in its send window (NC_BUF_F_PAYLOAD_REF: user[0] the
    payload's address in the sender, user[1] its length, user[2] the
    sender's board epoch, user[3] the slot's generation): for tests of the
    receiver's checks. True if the port took it."""
    cdef const uint8_t[:] data = frame
    cdef uint32_t b
    cdef nc_buf *nb
    if port.p.ops.alloc_burst(port.p, &b, 1) != 1:
        raise OSError(_errno.ENOBUFS, "no free buffer")
    nb = nc_port_buf(port.p, b)
    memcpy(nc_buf_data(nb), &data[0], data.shape[0])
    nb.len = data.shape[0]
    nb.flags |= NC_BUF_F_PAYLOAD_REF | (NC_BUF_F_CSUM_OK if csum_ok else 0)
    nb.user[0] = addr
    nb.user[1] = length
    nb.user[2] = <uint32_t>epoch
    nb.user[3] = gen
    if port.p.ops.tx_burst(port.p, &b, 1, 0) == 1:
        return True
    port.p.ops.free_burst(port.p, &b, 1)
    return False
