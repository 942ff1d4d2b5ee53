# TcbHarness: one TCP control block driven directly, as smoltcp tests its
# socket (issue 8). No link, no classifier, no channel, no poll loop: the
# test hands a TCP segment to tcp_input, runs the output step, fires the
# timers, and reads back the exact segments the control block sent, with
# time passed in on every call.
#
# The harness owns a StackState of its own (stack_state_alloc .. free), its
# counters in private memory instead of a stats segment, and a capture port
# (testing/capture_port.pxi) as st.port, so that tcp_emit's frames go
# through the stack's ordinary transmit batch (tx_enqueue / tx_flush) into a
# queue the harness drains. The connection is made by debug_build_tcb
# (testing/debug.pxi), the same code as debug_connection.

from netchan._core import COUNTER_NAMES

_HARNESS_STACK_DEFAULTS = {"max_conns": 1, "export_stats": False, "seed": 1}
_TIMER_NAMES = ("rexmt", "delack", "persist", "keep", "2msl")


cdef class TcbHarness:
    """One TCP connection under test, without a port or a Stack object.

    TcbHarness(state="ESTABLISHED", *, iss=1000, irs=5000, now=1_000_000_000,
               ip="198.18.0.1/15", local_port=80, remote=("198.18.0.2", 49152),
               mtu=1500, snd_wnd=65535, peer_mss=1460, snd_wscale=None,
               rcv_wscale=None, ts_recent=None, sack=False, rto=None, cc=None,
               quickack=0, nodelay=None, tso=False, **stack_options)

    The connection starts in `state` exactly as debug_connection builds it
    (see its docstring: the handshake done with our ISS `iss` and the peer's
    `irs`, no data). stack_options are Stack()'s (netchan.config checks
    them; e.g. delayed_ack=0.04, rto_min=1.0, rcvbuf=65536, timestamps=...).
    `now` is the time of creation in ns; after that time is only what the
    calls pass in, and it may not go back. tso=True gives the port TCP
    segmentation and checksum offload (testing/capture_port.pxi): TCP hands
    it super-frames by reference and the segments come out cut as a NIC
    would cut them.

    The test drives it as the stack's poll loop would, one step per call:

      feed(segment, now)   TCP input for one segment: the bytes of a TCP
                           header and its payload (no IP, no Ethernet), e.g.
                           bytes(TCP(...) / payload). Segments fed between two
                           dispatch() calls are one burst, as in the stack
      dispatch(now)        the output step: tcp_output if input, a timer or
                           an application call scheduled it, then the
                           transmit batch is flushed. Returns every segment
                           sent since the last dispatch (owed RSTs and
                           retransmissions that input and timers send at
                           once included), oldest first, as bytes of the TCP
                           header and payload; frames=True gives whole
                           Ethernet frames instead
      tick(now)            fire the timers due at `now` (the stack's timer
                           wheel); returns their names (rexmt, delack,
                           persist, keep, 2msl). What they send comes out
                           at the next dispatch()
      send(data) / recv(n) / shutdown()
                           what the application does through a Connection:
                           write into the send window, read from the receive
                           window (announcing the window it frees), queue
                           our FIN

    Read-only: state, iss, irs, snd_una, snd_nxt, snd_max, snd_wnd, rcv_nxt,
    rcv_adv, rcv_wnd, mss, cwnd, ssthresh, rto, srtt, backoff, retries,
    dupacks, soerror, readable, unsent, timers, next_deadline, now, tcb
    (every field, as debug_tcb) and counters (the stack counters that moved).
    """

    cdef StackState *st
    cdef CapturePort *cp
    cdef uint64_t *counter_mem
    cdef uint8_t *chan_mem
    cdef uint8_t *seg_buf           # a fed segment is parsed from this copy
    cdef uint8_t pseudo_ip[20]      # IPv4 header peer -> us, for the checksum
    cdef Tcb *t
    cdef readonly object config     # the netchan.config.StackConfig used

    def __cinit__(self):
        self.st = NULL
        self.cp = NULL
        self.counter_mem = NULL
        self.chan_mem = NULL
        self.seg_buf = NULL
        self.t = NULL

    def __init__(self, str state="ESTABLISHED", *, uint32_t iss=1000, uint32_t irs=5000,
                 uint64_t now=1_000_000_000, ip="198.18.0.1/15", int local_port=80,
                 remote=("198.18.0.2", 49152), int mtu=1500, uint32_t snd_wnd=65535,
                 int peer_mss=1460, snd_wscale=None, rcv_wscale=None, ts_recent=None,
                 sack=False, rto=None, cc=None, quickack=0, nodelay=None,
                 remote_mac="02:00:00:00:00:02", bint tso=False, **stack_options):
        from netchan.config import stack_config
        if self.st != NULL:
            raise RuntimeError("TcbHarness is initialised once")
        if now == 0:
            raise ValueError("now must not be 0 (0 means 'never' to the timers)")
        cdef uint8_t s = debug_state_id(state)
        cfg = stack_config(ip, mtu, **{**_HARNESS_STACK_DEFAULTS, **stack_options})
        self.config = cfg
        rhost, rport = remote
        cdef uint32_t raddr = _ip_to_u32(rhost)
        cdef bytes rmac = bytes.fromhex(remote_mac.replace(":", ""))
        cdef bytes lmac = b"\x02\x00\x00\x00\x00\x01"
        if len(rmac) != 6:
            raise ValueError(f"bad MAC {remote_mac!r}")
        cdef uint32_t rcv = cfg.rcvbuf or (1 << 20)
        cdef uint32_t snd = cfg.sndbuf or (1 << 20)
        cdef void *mem = NULL
        cdef StackState *st = stack_state_alloc(cfg.max_conns, 1, cfg.max_time_wait)
        if st == NULL:
            raise MemoryError("cannot allocate the harness's stack tables")
        self.st = st
        # the channel pool (unused: nothing is classified) and the counters
        if posix_memalign(&mem, NC_CACHE_LINE, st.chan_stride * CHAN_POOL) != 0:
            raise MemoryError("channel memory")
        self.chan_mem = <uint8_t *>mem
        memset(self.chan_mem, 0, st.chan_stride * CHAN_POOL)
        stack_state_channels(st, self.chan_mem)
        self.counter_mem = <uint64_t *>calloc(C_COUNT + WIRE_ERROR_COUNT + 4 * NC_PORT_STAT_COUNT,
                                              sizeof(uint64_t))
        self.seg_buf = <uint8_t *>malloc(IPV4_MAX_LEN)
        if self.counter_mem == NULL or self.seg_buf == NULL:
            raise MemoryError("counter memory")
        st.ctr = self.counter_mem
        st.wire_err = st.ctr + C_COUNT
        st.stats_ports = <nc_port_stats *>(st.wire_err + WIRE_ERROR_COUNT)
        # the port: frames go to the capture queue
        self.cp = capture_port_new(<uint32_t>mtu, 2048 if tso else 256, <const uint8_t *>lmac)
        if self.cp == NULL:
            raise MemoryError("capture port")
        if tso:
            capture_port_offload(self.cp)
        st.port = &self.cp.port
        memcpy(st.mac, self.cp.port.mac, 6)
        st.ip = _ip_to_u32(cfg.ip)
        st.netmask = _ip_to_u32(cfg.netmask)
        st.v4.addr[0] = st.ip
        st.v4.mask[0] = st.netmask
        st.v4.n_addr = 1
        st.mtu = <uint32_t>mtu
        # the settings, as Stack._setup copies them (pyx/api/stack.pxi)
        st.cfg.rcvbuf = rcv
        st.cfg.sndbuf = snd
        st.cfg.msl_ns = cfg.msl_ns
        st.cfg.rto_init_ns = cfg.rto_initial_ns
        st.cfg.rto_min_ns = cfg.rto_min_ns
        st.cfg.rto_max_ns = cfg.rto_max_ns
        st.cfg.max_retries = cfg.max_retries
        st.cfg.syn_retries = cfg.syn_retries
        st.cfg.delack_ns = cfg.delayed_ack_ns
        st.cfg.timestamps = cfg.timestamps
        st.cfg.sack = cfg.sack
        st.cfg.window_scaling = cfg.window_scaling
        st.cfg.ttl = cfg.ttl
        st.cfg.cc = <uint8_t>cfg.cc_id
        st.cfg.nodelay = cfg.nodelay
        st.cfg.syncookies = cfg.syncookies
        st.cfg.challenge_ack_limit = cfg.challenge_ack_limit
        st.cfg.frag_timeout_ns = cfg.frag_timeout_ns
        st.cfg.frag_max_bytes = cfg.frag_max_bytes
        if cfg.keepalive is not None:
            st.cfg.keep_idle_ns, st.cfg.keep_intvl_ns, st.cfg.keep_cnt = cfg.keepalive
        seed = cfg.seed if cfg.seed is not None else 1
        k1 = seed.to_bytes(16, "little")
        k2 = (seed + 1).to_bytes(16, "little")
        stack_state_keys(st, int.from_bytes(k1[:8], "little"), int.from_bytes(k1[8:], "little"),
                         int.from_bytes(k2[:8], "little"), int.from_bytes(k2[8:], "little"))
        rc = stack_state_arenas(st, rcv, snd)
        if rc != 0:
            raise OSError(-rc, f"cannot set up the window arenas: {_os.strerror(-rc)}")
        stack_state_start(st, now)
        # the connection, and the peer's MAC as if ARP had resolved it
        self.t = debug_build_tcb(st, s, raddr, local_port, rport, iss, irs, snd_wnd, peer_mss,
                                 snd_wscale, rcv_wscale, ts_recent, sack, rto, cc, quickack,
                                 nodelay)
        self.t.flags |= TF_HANDLE       # the test holds it, as an application would
        memcpy(self.t.rmac, <const uint8_t *>rmac, 6)
        self.t.rmac_gen = st.arp_gen

    def __dealloc__(self):
        stack_state_free(self.st)       # windows, tables (the control block with them)
        self.st = NULL
        self.t = NULL
        capture_port_free(self.cp)      # every buffer, captured or not
        self.cp = NULL
        free(self.counter_mem)
        free(self.chan_mem)
        free(self.seg_buf)

    # ---- driving it ------------------------------------------------------------------

    cdef Tcb *_at(self, uint64_t now) except NULL:
        """Set the clock for one call (it may not go back)."""
        if self.t == NULL:
            raise RuntimeError("TcbHarness was not initialised")
        if now < self.st.now:
            raise ValueError(f"time goes back: now={now} < {self.st.now}")
        self.st.now = now
        return self.t

    def feed(self, segment, uint64_t now, *, bint verify_csum=False):
        """TCP input for one segment (bytes of TCP header + payload) from
        the peer, as the stack's channel consumer runs it (stack_drain_tcb):
        an ACK still owed from the previous segment of this burst goes out
        first, then tcp_input. The checksum is checked (against an IPv4
        pseudo header peer -> us) only when verify_csum is true: scapy fills
        it only under an IP layer."""
        cdef Tcb *t = self._at(now)
        cdef const uint8_t[::1] data = bytes(segment)
        cdef Py_ssize_t n = data.shape[0]
        cdef TcpHdr th
        cdef int rc
        if n > IPV4_MAX_LEN - IPV4_HLEN:
            raise ValueError(f"a {n}-byte segment does not fit in an IPv4 packet")
        if t.state == CLOSED:
            raise ValueError("the connection is CLOSED: the stack would not find it "
                             "(its classifier answers with a RST; see tests/tcp_harness.py)")
        if n:
            memcpy(self.seg_buf, &data[0], n)
        ipv4_write(self.pseudo_ip, t.raddr, t.laddr, IP_PROTO_TCP, 64, 0, <uint32_t>n, True)
        rc = tcp_parse(self.seg_buf, <uint32_t>n, self.pseudo_ip, &th, verify_csum)
        if rc != WIRE_OK:
            raise ValueError(f"not a TCP segment the stack would take: {WIRE_ERROR_NAMES[rc]}")
        if th.sport != t.rport or th.dport != t.lport:
            raise ValueError(f"ports {th.sport} -> {th.dport}: this connection is "
                             f"{t.rport} -> {t.lport} (the classifier would not give it this)")
        self.st.ctr[C_RX_TCP] += 1
        if t.flags & TF_ACK_NOW and t.state >= ESTABLISHED:
            tcp_send_ack(self.st, t)
        tcp_input(self.st, t, &th)

    def dispatch(self, uint64_t now, *, bint frames=False):
        """The output step of a poll (stack_output): tcp_output if the
        connection is scheduled, then the transmit batch goes to the port.
        Returns every segment the connection sent since the last dispatch,
        oldest first: bytes of the TCP header and payload (IPv4 and
        Ethernet checked, then stripped), or whole frames if frames=True."""
        self._at(now)
        stack_output(self.st)
        return self._drain(frames)

    def tick(self, uint64_t now):
        """Fire every timer due at `now` (the stack's timer wheel, as a poll
        runs it). Returns the names of the timers that were due, in the
        order tcp_on_timer looks at them. Segments they send come out at
        the next dispatch()."""
        cdef Tcb *t = self._at(now)
        due = [name for name, when in self._timer_list() if when and when <= now]
        timers_run(self.st, now)
        return due

    cdef list _drain(self, bint frames):
        """Take every captured frame out of the port: check the IPv4 header
        and the TCP checksum, free the buffer."""
        cdef uint32_t b
        cdef nc_buf *nb
        cdef uint8_t *p
        cdef EthHdr eth
        cdef Ipv4Hdr ip
        cdef TcpHdr th
        cdef list out = []
        cdef int rc
        while True:
            b = capture_port_pop(self.cp)
            if b == NC_BUF_NONE:
                return out
            nb = nc_port_buf(&self.cp.port, b)
            p = nc_buf_data(nb)
            try:
                rc = eth_parse(p, nb.len, &eth)
                if rc != WIRE_OK or eth.ethertype != ETH_P_IPV4:
                    raise AssertionError(f"the stack sent a frame that is not IPv4: "
                                         f"{PyBytes_FromStringAndSize(<char *>p, nb.len).hex()}")
                rc = ipv4_parse(eth.payload, eth.payload_len, &ip, True)
                if rc == WIRE_OK and ip.proto == IP_PROTO_TCP:
                    rc = tcp_parse(ip.payload, ip.payload_len, ip.hdr, &th, True)
                if rc != WIRE_OK or ip.proto != IP_PROTO_TCP:
                    raise AssertionError(f"the stack sent a bad IPv4/TCP packet "
                                         f"({WIRE_ERROR_NAMES[rc]})")
                if frames:
                    out.append(PyBytes_FromStringAndSize(<char *>p, nb.len))
                else:
                    out.append(PyBytes_FromStringAndSize(<char *>ip.payload, ip.payload_len))
            finally:
                self.cp.port.ops.free_burst(&self.cp.port, &b, 1)

    # ---- what the application does -------------------------------------------------

    def send(self, data):
        """Write as much of data as the send window takes (Connection.send
        without the waiting); returns the count. Schedules output."""
        cdef Tcb *t = self._at(self.st.now)
        cdef const uint8_t[::1] v = bytes(data)
        cdef uint32_t space, n
        if t.flags & TF_FIN_QUEUED or not (t.state == ESTABLISHED or t.state == CLOSE_WAIT):
            raise _os_error(_errno.EPIPE, f"cannot send in {TCP_STATE_NAMES[t.state]}")
        space = window_space(&t.snd)
        n = <uint32_t>v.shape[0] if <uint32_t>v.shape[0] < space else space
        if n and not window_attach(&t.snd, &self.st.snd_arena):
            raise _os_error(_errno.ENOBUFS, "no window memory")
        if n:
            memcpy(window_at(&t.snd, t.snd.tail), &v[0], n)
            t.snd.tail += n
            tcp_schedule(self.st, t)
        return n

    def recv(self, Py_ssize_t n=65536):
        """Read up to n bytes of the received stream (Connection.recv
        without the waiting); a window update is scheduled when the freed
        space is worth announcing, as Connection does."""
        cdef Tcb *t = self._at(self.st.now)
        cdef uint64_t avail = t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0
        if n < 0:
            raise ValueError("n must be >= 0")
        if <uint64_t>n > avail:
            n = <Py_ssize_t>avail
        if n == 0:
            return b""
        data = PyBytes_FromStringAndSize(<char *>window_at(&t.rcv, t.rcv.head), n)
        t.rcv.head += <uint64_t>n
        tcp_rcv_idle(self.st, t)
        if ((t.state == ESTABLISHED or t.state == FIN_WAIT_1 or t.state == FIN_WAIT_2) and
                tcp_window_update_due(t)):
            t.flags |= TF_WND_UPDATE
            tcp_schedule(self.st, t)
        return data

    def shutdown(self):
        """Queue our FIN after the data written (shutdown(SHUT_WR)):
        ESTABLISHED -> FIN_WAIT_1, CLOSE_WAIT -> LAST_ACK."""
        cdef Tcb *t = self._at(self.st.now)
        if t.flags & TF_FIN_QUEUED:
            return
        if t.state == ESTABLISHED or t.state == SYN_RECEIVED:
            t.flags |= TF_FIN_QUEUED
            tcp_set_state(self.st, t, FIN_WAIT_1)
        elif t.state == CLOSE_WAIT:
            t.flags |= TF_FIN_QUEUED
            tcp_set_state(self.st, t, LAST_ACK)
        else:
            raise _os_error(_errno.ENOTCONN, f"shutdown in {TCP_STATE_NAMES[t.state]}")
        tcp_schedule(self.st, t)

    # ---- reading it ---------------------------------------------------------------

    cdef list _timer_list(self):
        cdef Tcb *t = self.t
        return [("2msl", t.t_2msl), ("rexmt", t.t_rexmt), ("persist", t.t_persist),
                ("keep", t.t_keep), ("delack", t.t_delack)]

    @property
    def timers(self):
        """{name: absolute ns} of the timers armed now."""
        return {name: when for name, when in self._timer_list() if when}

    @property
    def next_deadline(self):
        """The earliest armed timer (ns), or None."""
        return self.t.deadline or None

    @property
    def now(self):
        return self.st.now

    @property
    def state(self):
        return TCP_STATE_NAMES[self.t.state]

    @property
    def iss(self):
        return self.t.iss

    @property
    def irs(self):
        return self.t.irs

    @property
    def snd_una(self):
        return self.t.snd_una

    @property
    def snd_nxt(self):
        return self.t.snd_nxt

    @property
    def snd_max(self):
        return self.t.snd_max

    @property
    def snd_wnd(self):
        return self.t.snd_wnd

    @property
    def rcv_nxt(self):
        return self.t.rcv_nxt

    @property
    def rcv_adv(self):
        return self.t.rcv_adv

    @property
    def rcv_wnd(self):
        """The window we last advertised, still open: RCV.ADV - RCV.NXT (0
        until a segment of ours has advertised one)."""
        return (self.t.rcv_adv - self.t.rcv_nxt) & 0xffffffff if seq_gt(self.t.rcv_adv,
                                                                       self.t.rcv_nxt) else 0

    @property
    def mss(self):
        return self.t.mss

    @property
    def cwnd(self):
        return self.t.cwnd

    @property
    def ssthresh(self):
        return self.t.ssthresh

    @property
    def rto(self):
        """The RTO before back-off, ns."""
        return self.t.rto

    @property
    def srtt(self):
        return self.t.srtt

    @property
    def backoff(self):
        return self.t.backoff

    @property
    def retries(self):
        return self.t.retries

    @property
    def dupacks(self):
        return self.t.dupacks

    @property
    def soerror(self):
        """The errno the application would get (0: none)."""
        return self.t.soerror

    @property
    def readable(self):
        """Bytes received in order and not read yet."""
        return self.t.rcv.tail - self.t.rcv.head if self.t.rcv.base != NULL else 0

    @property
    def unsent(self):
        """Bytes written and not sent yet (from snd_nxt on)."""
        cdef Tcb *t = self.t
        cdef uint64_t off_nxt
        if t.snd.base == NULL:
            return 0
        off_nxt = t.snd.head + <uint32_t>(t.snd_nxt - t.snd_una)
        return t.snd.tail - off_nxt if t.snd.tail > off_nxt else 0

    @property
    def tcb(self):
        """Every field of the control block, raw (as debug_tcb)."""
        return debug_tcb_fields(self.t)

    @property
    def counters(self):
        """{name: value} of the stack counters that are not zero."""
        return {name: self.st.ctr[i] for i, name in enumerate(COUNTER_NAMES)
                if self.st.ctr[i]}

    def __repr__(self):
        if self.t == NULL:
            return "<TcbHarness (not initialised)>"
        return (f"<TcbHarness {self.state} snd_una={self.snd_una} snd_nxt={self.snd_nxt} "
                f"rcv_nxt={self.rcv_nxt} now={self.now}>")
