# The Python API's Stack: construction from checked settings
# (netchan.config), the blocking-call driver (_drive: poll, spin (api/busy_poll.pxi), sleep on the
# port's doorbell or jump a virtual clock), the background thread, close, and
# the factories for listeners, connections and UDP sockets.
#
# Python exceptions exist only in pyx/api/. Every blocking call drives the poll
# loop of its stack (and of the other end of a pair in this process) while it
# waits, so a single-threaded program needs nothing else. Blocking calls take
# timeout=None (wait forever) or seconds, measured on the stack's clock
# (virtual in tests); 0 makes them non-blocking.

import ipaddress as _ipaddress
import socket as _socket
import weakref as _weakref


cdef int _EBADF = _errno.EBADF
cdef int _EINVAL = _errno.EINVAL
cdef int _EADDRINUSE = _errno.EADDRINUSE
cdef int _ENOTCONN = _errno.ENOTCONN
cdef int _EHOSTUNREACH = _errno.EHOSTUNREACH
cdef int _EAGAIN = _errno.EAGAIN
cdef uint64_t NONBLOCK = 1                  # a deadline meaning "timeout=0"


LINGER = 5.0                    # seconds Stack.close() waits for FINs and data to be acknowledged
ADDRESS_PROBE_WAIT = 0.02      # seconds a Stack on a real-time link waits for an ARP conflict

# pair name -> list of weak references to the stacks on it in this process
_pair_groups = {}

# Stacks still open: closed at interpreter exit as close() would, so that a
# program that returns without closing still finishes its connections and
# leaves no link file behind.
_open_stacks = _weakref.WeakSet()


def _close_open_stacks():
    for stack in list(_open_stacks):
        try:
            stack.close()
        except Exception:
            pass


import atexit as _atexit
_atexit.register(_close_open_stacks)


cdef class Stack:
    """A TCP/IP stack on one port.

    Stack(port="shm:NAME", ip="198.18.0.1/15", mtu=None, clock=None, **options)

    port     a port URI (pair:NAME, shm:NAME, ...) with optional wrappers,
             e.g. "shm:bench?loss=0.01&seed=7", or a Port object
    ip       this stack's address with its prefix length, or a list: up to 4
             IPv4 and 4 IPv6 addresses (either family may be absent), and
             "slaac" for IPv6 addresses from router advertisements
    mtu      IP MTU (the shm/pair link is virtual: up to 65535); None takes the
             link's (1500 for a new link)
    clock    None for CLOCK_MONOTONIC, or a VirtualClock (tests)

    options (checked by netchan.config.stack_config before anything opens;
    a wrong kind raises TypeError, a wrong value ValueError):
      max_conns=4096          connection slots (each reserves ~660 B, used on demand)
      window_memory=None      bytes of attached windows (both directions) the
                              stack may hold; beyond, new connections are
                              refused (ENOBUFS, a RST to a SYN) and data that
                              would need a new window is dropped. A window
                              takes its slot (rcvbuf or sndbuf bytes) at its
                              first byte and gives it back when empty.
                              None = no limit
      rcvbuf=None sndbuf=None window bytes, rounded up to a power of two;
                              None: 4 MiB on a jumbo link or one moving
                              64 KiB super-frames (afpacket, GRO/TSO), else 1 MiB
      msl=30.0                seconds; TIME_WAIT lasts 2 x msl
      max_time_wait=65536     TIME_WAIT records kept (56 B each); beyond, the
                              oldest is recycled: never a limit on connections
      rto_min=1.0 rto_max=60.0 rto_initial=1.0   seconds (RFC 6298)
      max_retries=15 syn_retries=6   retransmissions before giving up
      delayed_ack=0.04        seconds, 0 = off (at most 0.5)
      timestamps=True sack=True window_scaling=True   TCP options offered
      cc='cubic'              or 'newreno': the default for new connections
      recovery='rack'         loss detection with SACK: 'rack' (RFC 8985 RACK-TLP) or
                              'rfc6675' (DupThresh only, no tail-loss probes)
      ecn=False               True offers and accepts ECN (RFC 3168) on handshakes
      hystart=True            HyStart++ (RFC 9406) leaves CUBIC's first slow start
                              when the RTT rises
      nodelay=False           True turns Nagle off for new connections
      keepalive=None          (idle, interval, count) in seconds, None = off
      syncookies=True         answer with SYN cookies when a SYN queue is full
      challenge_ack_limit=1000   RFC 5961 challenge ACKs (and ICMP errors) per second
      frag_timeout=30.0 frag_max_datagrams=16 frag_max_bytes=1048576   reassembly bounds
      busy_poll=5e-05         seconds a blocking call spins before it sleeps
      busy_poll_mode='answer' spin only while an answer is due (the stack sent data,
                              a SYN or a datagram in the last 20 x busy_poll, 1 ms);
                              'always' spins before every sleep, also when it only
                              receives
      background=False        a thread keeps the stack running (ACKs,
                              handshakes, timers) while the application is
                              busy elsewhere; real clock only
      export_stats=True       counters readable by `netchan stats`
      seed=None               an int makes ISNs and ports reproducible
      ttl=64                  IPv4 time to live
      gateway=None            IPv4 default gateway (IPv6 routers come from advertisements)
      dad='optimistic' dad_timeout=1.0   IPv6 duplicate address detection: 'optimistic'
                              (RFC 4429), 'wait' (RFC 4862) or 'off'; seconds it listens
    """

    def __cinit__(self):
        self.st = NULL
        self.closed = True

    def __init__(self, port="shm:netchan", ip="198.18.0.1/15", mtu=None, clock=None,
                 **options):
        # Every setting is checked (netchan.config) before anything is
        # opened, so a refused setting never leaves a link claimed.
        from netchan.config import stack_config
        if clock is not None and not isinstance(clock, VirtualClock):
            raise TypeError("clock must be None (real time) or a netchan.VirtualClock")
        cfg = stack_config(ip, mtu, **options)
        if cfg.background and clock is not None:
            raise ValueError("background=True needs the real clock (a virtual clock only "
                             "moves when the test moves it)")
        self.port = self._open_port(port, cfg.mtu)
        # one stack per core: local ports are picked so that the flow's
        # replies are steered to this stack's queue (netchan.steer)
        self.steer_k, self.steer_n = self.port.queue or (0, 1)
        self.uri = self.port.uri if isinstance(port, Port) else port
        self.closed = False                 # from here on, close() undoes what was done
        try:
            self._setup(cfg, clock)
            _open_stacks.add(self)
        except BaseException:
            self.close(linger=0)
            raise

    def _setup(self, cfg, VirtualClock clock):
        for a in (*(a4.split("/")[0] for a4 in cfg.ip4), *(a6.split("/")[0] for a6 in cfg.ip6)):
            self.port.check_address(a)
        cdef uint32_t port_mtu = self.port.p.mtu
        if cfg.mtu is not None and cfg.mtu != port_mtu:
            raise ValueError(f"mtu={cfg.mtu}: the port's MTU is {port_mtu}")
        # windows: 4 MiB on a jumbo link or one that moves 64 KiB
        # super-frames (afpacket with GRO/TSO: 1 MiB held the Linux sender
        # back, rwnd_limited 30% in `ss -ti`), 1 MiB otherwise, unless given
        big = port_mtu > 9000 or self.port.moves_superframes()
        cdef uint32_t rcv = cfg.rcvbuf or (4 << 20 if big else 1 << 20)
        cdef uint32_t snd = cfg.sndbuf or (4 << 20 if big else 1 << 20)
        self.st = stack_state_alloc(cfg.max_conns, cfg.frag_max_datagrams, cfg.max_time_wait)
        if self.st == NULL:
            raise MemoryError(f"cannot allocate the stack's tables for max_conns="
                              f"{cfg.max_conns}")
        cdef StackState *st = self.st
        self.chan_region = map_private(st.chan_stride * CHAN_POOL, False)
        stack_state_channels(st, self.chan_region.ptr)
        st.port = self.port.p
        memcpy(st.mac, self.port.p.mac, 6)
        _set_addresses_v4(st, cfg)
        _set_addresses_v6(st, cfg)
        st.mtu = port_mtu
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
        st.cfg.recovery = <uint8_t>cfg.recovery_id
        st.cfg.ecn = cfg.ecn
        st.cfg.hystart = cfg.hystart
        st.cfg.nodelay = cfg.nodelay
        st.cfg.syncookies = cfg.syncookies
        st.cfg.challenge_ack_limit = cfg.challenge_ack_limit
        st.cfg.frag_timeout_ns = cfg.frag_timeout_ns
        st.cfg.frag_max_bytes = cfg.frag_max_bytes
        if cfg.keepalive is not None:
            st.cfg.keep_idle_ns, st.cfg.keep_intvl_ns, st.cfg.keep_cnt = cfg.keepalive
        rnd = _os.urandom(16) if cfg.seed is None else cfg.seed.to_bytes(16, "little")
        rnd2 = _os.urandom(16) if cfg.seed is None else (cfg.seed + 1).to_bytes(16, "little")
        stack_state_keys(st, int.from_bytes(rnd[:8], "little"), int.from_bytes(rnd[8:], "little"),
                         int.from_bytes(rnd2[:8], "little"), int.from_bytes(rnd2[8:], "little"))
        rc = stack_state_arenas(st, rcv, snd)
        if rc != 0:
            raise OSError(-rc, f"cannot set up the window arenas ({cfg.max_conns} x {rcv} B): "
                               f"{_os.strerror(-rc)}")
        # one window memory limit for both directions
        st.rcv_arena.peer = &st.snd_arena
        st.snd_arena.peer = &st.rcv_arena
        st.rcv_arena.limit = st.snd_arena.limit = cfg.window_memory or 0
        if cfg.window_memory is not None and cfg.window_memory < rcv + snd:
            raise ValueError(f"window_memory={cfg.window_memory}: less than one connection's "
                             f"windows (rcvbuf {rcv} + sndbuf {snd} bytes)")
        self.busy_poll_ns = cfg.busy_poll_ns
        self.busy_poll_always = cfg.busy_poll_mode == "always"
        self.vclock = clock
        self._join_group(clock)
        self.stats_region, self.stats_path = stats_segment_open(self, cfg.export_stats)
        stack_state_start(st, self._now())
        _stack_share_windows(self.port, st)     # shm: send windows read in place
        self._claim_address()
        if cfg.background:
            if self.vclock is not None:
                raise ValueError("background=True needs the real clock (a pair's other end "
                                 "runs on a virtual clock)")
            import threading
            self.background = True
            self.bg_thread = threading.Thread(target=self._background_loop, daemon=True,
                                              name=f"netchan {self.uri}")
            self.bg_thread.start()

    # ---- construction helpers -------------------------------------------------

    def _claim_address(self):
        """Probe for our addresses (ARP, RFC 5227 in brief; DAD), wait
        briefly and refuse to start if another host answers, then announce
        them (addresses.pxi: _claim_probe, _claim_finish). The wait is short
        and bounded (the peers of a virtual link answer within a poll; a
        real one gets ADDRESS_PROBE_WAIT): a later answer is still counted."""
        cdef StackState *st = self.st
        cdef Stack s
        if not _claim_probe(st, self.port.link_up):
            return                      # nobody there to ask or to tell
        if self.vclock is not None:
            for _ in range(2):
                for s in self.group:
                    s._poll_once(self.vclock.now_ns)
        else:
            give_up = self._now() + <uint64_t>(ADDRESS_PROBE_WAIT * 1e9)
            while (st.ctr[C_ARP_ADDRESS_CONFLICT] | st.ctr[C_NDP_ADDRESS_CONFLICT]) == 0 and \
                    self._now() < give_up:
                self._poll_once(self._now())
        _claim_finish(st, self.uri)

    cdef Port _open_port(self, object port, object mtu):
        if isinstance(port, Port):
            return port
        from netchan.uri import parse_port_uri
        spec = parse_port_uri(port)
        return open_port(spec, mtu)

    cdef _join_group(self, VirtualClock clock):
        self.group = [self]
        if not self.port.virtual_time:
            return
        inner = self.port
        while inner.inner is not None:
            inner = inner.inner
        name = inner.uri
        self.pair_name = name
        peers = [r() for r in _pair_groups.get(name, [])]
        peers = [s for s in peers if s is not None and not (<Stack>s).closed]
        for s in peers:
            if (<Stack>s).vclock is not clock:
                if clock is None and (<Stack>s).vclock is not None:
                    self.vclock = (<Stack>s).vclock
                else:
                    raise ValueError(f"both ends of {name} must use the same clock")
        peers.append(self)
        _pair_groups[name] = [_weakref.ref(s) for s in peers]
        for s in peers:
            (<Stack>s).group = peers

    # ---- lifetime -----------------------------------------------------------------

    def __dealloc__(self):
        stack_state_free(self.st)
        self.st = NULL

    def close(self, linger=None):
        """Close the stack as the kernel closes sockets at process exit: every
        open connection gets a FIN after the data already queued (a RST where
        received data would go unread, or no one accepted it), and the stack
        keeps running until all of that is acknowledged, for at most `linger`
        seconds (default LINGER, on the stack's clock); what is still
        unacknowledged then is reset. linger=0 resets every connection at once
        (SO_LINGER 0). Nothing is sent after the port is closed. Memory that a
        live view still refers to stays mapped until the view and this object
        are gone."""
        cdef StackState *st = self.st
        cdef uint32_t i
        cdef Tcb *t
        if self.closed:
            return
        if linger is None:
            linger = LINGER
        if float(linger) < 0:
            raise ValueError(f"linger={linger!r}: seconds >= 0 (0 resets every connection)")
        if linger and st != NULL and st.tcbs != NULL and st.ctr != NULL:
            stack_set_now(st, self._now())
            for i in range(st.cfg.max_conns):
                tcp_stack_closing(st, &st.tcbs[i])
            self._kick()
            try:
                self.run_until(self._fins_settled, timeout=linger)
            except OSError:
                pass
        if self.bg_thread is not None:
            self.bg_stop = True
            self.bg_thread.join()
            self.bg_thread = None
        self.closed = True
        _open_stacks.discard(self)
        if st != NULL and st.tcbs != NULL and st.ctr != NULL:
            stack_set_now(st, self._now())
            for i in range(st.cfg.max_conns):
                t = &st.tcbs[i]
                # what the linger time did not settle is reset (all of it
                # with linger=0); a FIN acknowledged (FIN_WAIT_2, TIME_WAIT)
                # needs nothing more from us
                if (t.state == CLOSED or t.state == LISTEN or t.state == TIME_WAIT or
                        t.state == FIN_WAIT_2):
                    continue
                if linger and tcp_fin_unacked(t):
                    st.ctr[C_TCP_CLOSE_LINGER_EXPIRED] += 1
                tcp_abort(st, t)
            tx_flush(st)
            stack_copy_port_stats(st)
            stack_windows_unshare(st)
        if self.port is not None:
            self.port.close()
        if self.stats_path is not None:
            try:
                _os.unlink(self.stats_path)
            except OSError:
                pass
            self.stats_path = None
        if self.group is not None:
            self.group = [s for s in self.group if s is not self]
            for s in self.group:
                (<Stack>s).group = self.group
            if self.pair_name is not None:
                _pair_groups[self.pair_name] = [_weakref.ref(s) for s in self.group]
                if not self.group:
                    del _pair_groups[self.pair_name]

    def _fins_settled(self):
        """True when nothing the closing asked for is unacknowledged (or the
        link is down: no one is there to acknowledge it)."""
        cdef StackState *st = self.st
        cdef uint32_t i
        if not st.port.ops.link_up(st.port):
            return True
        for i in range(st.cfg.max_conns):
            if tcp_fin_unacked(&st.tcbs[i]):
                return False
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"{self.n_connections} connections"
        return f"<netchan.Stack {self.uri} {self.ip} {state}>"

    # ---- time and driving -----------------------------------------------------------

    cdef uint64_t _now(self):
        if self.vclock is not None:
            return self.vclock.now_ns
        return mono_ns()

    cdef uint64_t _deadline(self, object timeout) except? 1:
        """0 = wait forever; NONBLOCK = do not wait (timeout=0, as a
        non-blocking socket: one poll, then BlockingIOError)."""
        if timeout is None:
            return 0
        t = float(timeout)
        if t < 0:
            raise ValueError("timeout must be None or >= 0")
        if t == 0:
            self.nonblock_polled = False
            return NONBLOCK
        return self._now() + <uint64_t>(t * 1e9) + 2

    cdef void _check_open(self) except *:
        if self.closed:
            raise _os_error(_EBADF, "the stack is closed")

    cdef uint32_t _poll_once(self, uint64_t now) noexcept:
        cdef uint32_t r
        if self.background:
            # A background thread polls too: the GIL is the stack's lock,
            # so the loop runs without releasing it.
            r = stack_poll_and_sweep(self.st, now)
        else:
            with nogil:
                r = stack_poll_and_sweep(self.st, now)
        return r

    cdef int _drive(self, uint64_t deadline) except -1:
        """One round of a blocking wait: poll every stack of the group; if
        none had work, wait for the next event without passing `deadline`
        (0 = none). Returns the work done (0 after a wait). Raises
        TimeoutError once the deadline has passed, BlockingIOError on the
        second round of a non-blocking call."""
        cdef uint64_t now = self._now()
        cdef uint32_t work = 0
        cdef uint64_t nxt = 0, d, wait_ns
        cdef Stack s
        self._check_open()
        # run Python signal handlers (Ctrl-C, SIGTERM) during long blocking calls
        PyErr_CheckSignals()
        if deadline == NONBLOCK:
            if self.nonblock_polled:
                raise _os_error(_EAGAIN, "the operation would block")
            self.nonblock_polled = True
        elif deadline and now >= deadline:
            raise _os_error(_ETIMEDOUT, "timed out")
        for s in self.group:
            work += s._poll_once(now)
        if work:
            self.idle_since = 0
            return work
        if deadline == NONBLOCK:
            return 0
        if self.vclock is None:
            # real clock: maybe spin for busy_poll before paying for a sleep
            # (and for the timer scan that decides how long to sleep)
            if self.idle_since == 0:
                self.idle_since = now
                self.spin_this_wait = self.busy_poll_always or answer_due(
                    self._asked(), now, &self.asked_seen, &self.asked_at, self.busy_poll_ns)
                if self.busy_poll_ns:
                    self.st.ctr[C_WAITS_SPUN if self.spin_this_wait else C_WAITS_SLEPT] += 1
            if self.spin_this_wait and busy_poll_round(now - self.idle_since, self.busy_poll_ns):
                return 0
        for s in self.group:
            nxt = min_nonzero(nxt, stack_next_deadline(s.st))
        if self.vclock is not None:
            # Idle on a virtual clock: jump straight to the next event.
            nxt = min_nonzero(nxt, deadline)
            if nxt == 0:
                raise _os_error(_ETIMEDOUT, "nothing left to happen: no frame in flight "
                                            "and no timer armed")
            if nxt > self.vclock.now_ns:
                self.vclock.now_ns = nxt
            return 0
        d = min_nonzero(nxt, deadline)
        wait_ns = d - now if d > now else 0
        if d == 0 or wait_ns > 10000000:
            wait_ns = 10000000           # look again at least every 10 ms
        if wait_ns:
            self._sleep(wait_ns)
        return 0

    cdef uint64_t _asked(self) noexcept:
        """stack_asked (api/busy_poll.pxi) summed over the group."""
        cdef uint64_t n = 0
        cdef Stack s
        for s in self.group:
            n += stack_asked(s.st)
        return n

    cdef void _sleep(self, uint64_t ns) noexcept:
        cdef sysc.timespec ts
        cdef nc_port *p = self.st.port
        with nogil:
            if p.caps & NC_CAP_SLEEP:
                p.ops.wait(p, ns)
            else:
                if ns > 1000000:
                    ns = 1000000
                ts.tv_sec = 0
                ts.tv_nsec = <long>ns
                sysc.nanosleep(&ts, NULL)

    cdef void _kick(self) noexcept:
        """Send what an API call scheduled, now rather than at the next poll."""
        self.idle_since = 0     # the next wait is a new idle period (busy_poll_mode decides anew)
        stack_set_now(self.st, self._now())
        if self.background:
            stack_output(self.st)
        else:
            with nogil:
                stack_output(self.st)

    def _background_loop(self):
        """The background thread: keeps the stack running (ACKs, handshakes,
        retransmissions, keepalives) while the application does something
        else, sleeping on the port's doorbell or until the next timer."""
        cdef uint64_t now, nxt, wait_ns
        while not self.bg_stop and not self.closed:
            now = self._now()
            if self._poll_once(now):
                continue
            nxt = stack_next_deadline(self.st)
            wait_ns = 5000000
            if nxt:
                wait_ns = nxt - now if nxt > now else 0
                if wait_ns > 5000000:
                    wait_ns = 5000000
            if wait_ns:
                self._sleep(wait_ns)

    def poll(self, timeout=0):
        """Run the loop (of this stack and the other end of its pair, if in
        this process): once when timeout is 0, else until something happens
        or timeout seconds pass (None: until something happens; on a virtual
        clock the clock jumps to the next timer). Returns the amount of work
        done (frames and timers), 0 when nothing happened."""
        self._check_open()
        cdef uint64_t deadline = self._deadline(timeout)
        cdef int work
        while True:
            try:
                work = self._drive(deadline)
            except (TimeoutError, BlockingIOError):
                return 0
            if work or deadline == NONBLOCK:
                return work

    def run_until(self, predicate, timeout=None):
        """Drive the loop until predicate() is true; TimeoutError after timeout."""
        self._check_open()
        cdef uint64_t deadline = self._deadline(timeout)
        while not predicate():
            self._drive(deadline)

    # ---- sockets ---------------------------------------------------------------------

    def listen(self, port, backlog=128):
        """Accept connections on TCP `port`; returns a Listener."""
        self._check_open()
        cdef StackState *st = self.st
        cdef int32_t lid = -1
        port = int(port)
        if not 1 <= port <= 65535:
            raise ValueError(f"port={port}: must be in 1..65535")
        backlog = int(backlog)
        if not 1 <= backlog <= 65535:
            raise ValueError(f"backlog={backlog}: must be in 1..65535")
        lid = listener_open(st, port, backlog)
        if lid == -_EADDRINUSE:
            raise _os_error(_EADDRINUSE, f"TCP port {port} already has a listener")
        if lid == -_errno.EMFILE:
            raise _os_error(_errno.EMFILE, f"too many listeners (max {st.max_listeners})")
        if lid < 0:
            raise MemoryError()
        cdef TcpListener obj = TcpListener.__new__(TcpListener)
        obj.stack = self
        obj.lid = lid
        obj.gen = st.listeners[lid].gen
        obj.port = port
        return obj

    def connect(self, address, timeout=None, source_port=None, cc=None):
        """Open a connection to (host, port); returns a Connection once it is
        established (timeout=None: however long the SYN retries take; a number:
        seconds; 0: at once, with the handshake under way, as a non-blocking
        socket's connect). Raises ConnectionRefusedError, TimeoutError, ..."""
        self._check_open()
        cdef StackState *st = self.st
        from netchan.config import parse_address
        host, rport = parse_address(address, "address")
        cdef uint32_t laddr, raddr
        if timeout is not None and float(timeout) < 0:
            raise ValueError(f"connect(timeout={timeout!r}): give None (wait as long as the "
                             f"handshake takes), seconds > 0, or 0 (return at once)")
        laddr, raddr = _connect_addresses(st, host, self.uri)
        cdef uint16_t lport
        if source_port is not None:
            lport = int(source_port)
            if flow_lookup(st, laddr, raddr, rport, lport) != NC_BUF_NONE:
                raise _os_error(_EADDRINUSE, f"{self.ip}:{lport} -> {host}:{rport} is in use")
        else:
            lport = self._ephemeral(laddr, raddr, rport)
        cdef Tcb *t
        if st.tcb_nfree and not tcp_windows_admit(st):
            st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
            raise _os_error(_errno.ENOBUFS,
                            f"window memory exhausted ({arena_bytes_in_use(&st.rcv_arena)} of "
                            f"window_memory={st.rcv_arena.limit} bytes attached): raise "
                            f"window_memory or close connections")
        t = tcb_alloc(st)
        if t == NULL:
            raise _os_error(_errno.ENOBUFS, f"connection table full (max_conns="
                                            f"{st.cfg.max_conns}): raise max_conns or close "
                                            f"connections")
        stack_set_now(st, self._now())
        tcp_open_tcb(st, t, laddr, raddr, lport, rport,
                     tcp_isn(st, laddr, raddr, lport, rport, st.now))
        t.mss = 536
        t.flags |= TF_HANDLE
        t.rtt_start = st.now
        t.rtt_seq = t.iss
        tcp_init_cc(st, t)
        if cc is not None:
            tcp_set_cc(t, cc)
        tcp_set_state(st, t, SYN_SENT)
        flow_insert(st, t)
        st.ctr[C_TCP_ACTIVE_OPENS] += 1
        tcp_schedule(st, t)
        conn = self._wrap(t)
        self._kick()
        if timeout is not None and float(timeout) == 0:
            # non-blocking: the handshake goes on in the polls to come; the
            # connection's blocking calls wait for it, conn.state tells
            return conn
        cdef uint64_t deadline = self._deadline(timeout)
        try:
            while True:
                t = &st.tcbs[(<Connection>conn).id]
                if t.state == ESTABLISHED or t.state == CLOSE_WAIT:
                    return conn
                if t.state == CLOSED or t.gen != (<Connection>conn).gen:
                    err = t.soerror or _ECONNREFUSED
                    raise _os_error(err, f"connect to {host}:{rport}")
                self._drive(deadline)
        except BaseException:
            conn.abort()
            raise

    cdef uint16_t _ephemeral(self, uint32_t laddr, uint32_t raddr, uint16_t rport) except 0:
        cdef StackState *st = self.st
        cdef uint32_t span = EPHEMERAL_HI - EPHEMERAL_LO + 1
        cdef uint32_t i, p
        for i in range(span):
            p = EPHEMERAL_LO + (st.eph_next - EPHEMERAL_LO + i) % span
            if self.steer_n > 1 and steer_queue(<uint16_t>p, rport, self.steer_n) != self.steer_k:
                continue                # its replies would go to another queue's stack
            if st.listen_by_port[p] < 0 and flow_lookup(st, laddr, raddr, rport, <uint16_t>p) == NC_BUF_NONE:
                st.eph_next = p + 1 if p < EPHEMERAL_HI else EPHEMERAL_LO
                return <uint16_t>p
        raise _os_error(_errno.EADDRNOTAVAIL, "no ephemeral port free for this destination")

    cdef Connection _wrap(self, Tcb *t):
        cdef Connection c = Connection.__new__(Connection)
        c.stack = self
        c.st = self.st
        c.id = t.id
        c.gen = t.gen
        c.pins = []
        t.flags |= TF_HANDLE
        return c

    def udp(self, bind=None, dontfrag=False):
        """A UDP socket bound to bind=(ip, port) or to a port of the
        stack's address; port 0 or None picks one. dontfrag: a datagram
        over the MTU raises EMSGSIZE instead of leaving in fragments."""
        self._check_open()
        return udp_socket_open(self, bind, dontfrag)

    # ---- introspection ---------------------------------------------------------------

    @property
    def ip(self):
        """The first IPv4 address (None for an IPv6-only stack); all are in addresses."""
        return _u32_to_ip(self.st.ip) if self.st.v4.n_addr else None

    def address_state(self, address):
        """"preferred", "optimistic", "tentative" or "duplicate" (DAD, docs/ipv6.md)."""
        self._check_open()
        return _address_state(self.st, address)

    def routes(self):
        """{"gateway": IPv4's or None, "routers": [IPv6], "prefixes": [on-link IPv6]}."""
        self._check_open()
        return _routes(self.st)

    @property
    def addresses(self):
        return _addresses(self.st)

    @property
    def network(self):
        if not self.st.v4.n_addr:
            return None
        return str(_ipaddress.IPv4Network((self.st.ip & self.st.netmask, _u32_to_ip(self.st.netmask))))

    @property
    def mac(self):
        return ":".join(f"{self.st.mac[i]:02x}" for i in range(6))

    @property
    def mtu(self):
        return self.st.mtu

    @property
    def clock(self):
        return self.vclock

    @property
    def now(self):
        """The stack's clock, in nanoseconds."""
        return self._now()

    @property
    def n_connections(self):
        return self.st.n_conns

    @property
    def stats_path(self):
        return self.stats_path

    def stats(self):
        """Every counter by name: the stack's, the wire parser's drop
        reasons, and the port chain's."""
        cdef StackState *st = self.st
        d = {COUNTER_NAMES[i]: st.ctr[i] for i in range(C_COUNT)}
        for i in range(1, WIRE_ERROR_COUNT):
            d[WIRE_ERROR_NAMES[i]] = st.wire_err[i]
        d["wire_errors_total"] = sum(st.wire_err[i] for i in range(1, WIRE_ERROR_COUNT))
        d["connections"] = st.n_conns
        d["time_wait"] = st.tw_n
        d["listeners"] = sum(1 for i in range(st.max_listeners) if st.listeners[i].active)
        d["window_slots_in_use"] = st.rcv_arena.in_use + st.snd_arena.in_use
        d["window_bytes_in_use"] = arena_bytes_in_use(&st.rcv_arena)
        d["window_slots_warm"] = ((st.rcv_arena.nfree - st.rcv_arena.nclean) +
                                  (st.snd_arena.nfree - st.snd_arena.nclean))
        d["window_punches"] = st.rcv_arena.punches + st.snd_arena.punches
        d["window_memory_refusals"] = (st.rcv_arena.limit_refusals +
                                       st.snd_arena.limit_refusals)
        d["window_map_budget_refusals"] = (st.rcv_arena.map_budget_refusals +
                                           st.snd_arena.map_budget_refusals)
        d["window_map_failures"] = st.rcv_arena.map_failures + st.snd_arena.map_failures
        d["window_slots_mapped"] = st.rcv_arena.next_fresh + st.snd_arena.next_fresh
        d["window_deferred_releases"] = st.rcv_arena.deferred_releases + st.snd_arena.deferred_releases
        d["window_slots_read_in_place"] = st.peer_wins[0].in_use + st.peer_wins[1].in_use   # shm peer's
        d["window_slots_awaiting_peer"] = st.snd_arena.held_pending  # ours, let go, still read by it
        d.update(self.port.stats())
        return d

    def arp_table(self):
        """{address: mac} of resolved neighbours (ARP and NDP)."""
        return _neighbours(self.st)

    # ---- readiness and event loops (pyx/api/readiness.pxi) -------------------------

    def readiness(self, obj):
        """READABLE (1) | WRITABLE (2) of a Connection, Listener or UdpSocket
        now, as poll(2) tells (the values of selectors.EVENT_READ/WRITE)."""
        self._check_open()
        return obj_readiness(obj)

    def wait(self, objs, timeout=None):
        """Drive the stack until one of objs is ready; returns [(obj, events)]
        of the ready ones, in the order given ([] after timeout; timeout=0:
        one poll). objs holds objects (waiting to read) or (obj, events)
        pairs with events READABLE | WRITABLE."""
        self._check_open()
        items = [(o, READABLE) if not isinstance(o, tuple) else o for o in objs]
        cdef uint64_t deadline = self._deadline(timeout)
        while True:
            ready = [(o, obj_readiness(o) & ev) for o, ev in items]
            ready = [r for r in ready if r[1]]
            if ready:
                return ready
            try:
                self._drive(deadline)
            except (TimeoutError, BlockingIOError):
                return []

    def fileno(self):
        """An fd that becomes readable when the stack may have work (frames
        from the port; see docs/api.md for what each port gives). An event
        loop sleeps on it between arm_wakeup() and clear_wakeup(), and until
        next_deadline at the latest."""
        self._check_open()
        return self.port.fileno()

    @property
    def next_deadline(self):
        """When a timer of the stack (or of the other end of its pair) is
        next due, in seconds on the stack's clock (comparable to
        time.monotonic() on the real clock), or None."""
        self._check_open()
        cdef uint64_t d = 0
        cdef Stack s
        for s in self.group:
            d = min_nonzero(d, stack_next_deadline(s.st))
        return None if d == 0 else d / 1e9

    def arm_wakeup(self):
        """About to sleep on fileno(): ask the port to make it readable on
        the next frame. False when work is waiting already (poll instead)."""
        self._check_open()
        cdef uint64_t now = self._now(), d = 0
        cdef Stack s
        for s in self.group:
            d = min_nonzero(d, stack_next_deadline(s.st))
        if d and d <= now:
            return False
        return self.port._arm(d - now if d else 0)

    def clear_wakeup(self):
        """After sleeping on fileno(): drain it and stop asking for it."""
        if not self.closed:
            self.port._disarm()
