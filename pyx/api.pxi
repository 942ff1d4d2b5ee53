# The Python API: Stack, Listener, Connection, UdpSocket.
#
# Python exceptions exist only here. Every blocking call drives the poll
# loop of its stack (and of the other end of a pair in this process) while
# it waits, so a single-threaded program needs nothing else. Blocking calls
# take timeout=None (wait forever) or seconds, measured on the stack's clock
# (virtual in tests).

import ipaddress as _ipaddress
import json as _json
import socket as _socket
import weakref as _weakref
import itertools as _itertools

cdef int _EBADF = _errno.EBADF
cdef int _EINVAL = _errno.EINVAL
cdef int _EADDRINUSE = _errno.EADDRINUSE
cdef int _ENOTCONN = _errno.ENOTCONN
cdef int _EHOSTUNREACH = _errno.EHOSTUNREACH
cdef int _EAGAIN = _errno.EAGAIN

cdef uint32_t STATS_MAGIC = 0x4e435354      # "NCST"
cdef uint64_t NONBLOCK = 1                  # a deadline meaning "timeout=0"
cdef size_t STATS_HEADER = 16384

# struct nc_port_stats field by field, from its one list (NC_PORT_STATS in
# include/netchan/port.h)
PORT_STAT_FIELDS = tuple([nc_port_stat_name(i).decode() for i in range(NC_PORT_STAT_COUNT)])

_stats_seq = _itertools.count()


cdef uint32_t _ip_to_u32(object host) except? 0:
    try:
        return int(_ipaddress.IPv4Address(host))
    except (ValueError, TypeError):
        raise ValueError(f"{host!r} is not an IPv4 address (netchan does no name lookups)") from None


cdef str _u32_to_ip(uint32_t a):
    return str(_ipaddress.IPv4Address(a))


def _check_keepalive(value):
    """(idle, interval, count) in seconds -> (ns, ns, count), checked."""
    try:
        idle, interval, count = value
        idle, interval, count = float(idle), float(interval), int(count)
    except (TypeError, ValueError):
        raise ValueError(f"keepalive={value!r}: expected (idle seconds, interval seconds, "
                         f"probe count), e.g. (7200, 75, 9)") from None
    if idle <= 0 or interval <= 0 or not 1 <= count <= 255:
        raise ValueError(f"keepalive={value!r}: idle and interval must be > 0, count in 1..255")
    return int(idle * 1e9), int(interval * 1e9), count


cdef uint32_t _pow2_at_least(object n, str what) except 0:
    v = int(n)
    if v < 4096 or v > (1 << 30):
        raise ValueError(f"{what}={n}: must be between 4096 and 1 GiB")
    p = 4096
    while p < v:
        p <<= 1
    return p


# pair name -> list of weak references to the stacks on it in this process
_pair_groups = {}


cdef class Stack:
    """A TCP/IP stack on one port.

    Stack(port="shm:NAME", ip="198.18.0.1/15", mtu=None, clock=None, **options)

    port     a port URI (pair:NAME, shm:NAME, ...) with optional wrappers,
             e.g. "shm:bench?loss=0.01&seed=7", or a Port object
    ip       this stack's address with its prefix length
    mtu      IP MTU (the shm/pair link is virtual: up to 65535); None takes the
             link's (1500 for a new link)
    clock    None for CLOCK_MONOTONIC, or a VirtualClock (tests)

    options: max_conns, rcvbuf, sndbuf (bytes; rounded up to a power of
    two), msl (seconds; TIME_WAIT is 2 x msl), rto_min, rto_max, rto_initial
    (seconds), max_retries, syn_retries, delayed_ack (seconds, 0 = off),
    timestamps, sack, window_scaling (bools), cc ("cubic" or "newreno", the
    default for new connections), nodelay (Nagle off by default),
    keepalive ((idle, interval, count) in seconds, or None = off),
    syncookies (answer with SYN cookies when a listener's SYN queue is
    full), challenge_ack_limit (RFC 5961 challenge ACKs per second),
    busy_poll (seconds spent spinning before a blocking call sleeps),
    background (a thread keeps the stack running — ACKs, handshakes,
    timers — while the application is busy elsewhere; real clock only),
    export_stats (bool), seed (int: makes ISNs and ports reproducible).
    """
    cdef StackState *st
    cdef readonly Port port
    cdef VirtualClock vclock
    cdef list group
    cdef MappedRegion chan_region
    cdef MappedRegion stats_region
    cdef object stats_path
    cdef readonly str uri
    cdef bint closed
    cdef bint arenas_ready
    cdef uint64_t busy_poll_ns
    cdef uint64_t idle_since
    cdef bint nonblock_polled
    cdef readonly bint background
    cdef bint bg_stop
    cdef object bg_thread
    cdef object pair_name
    cdef object __weakref__

    def __cinit__(self):
        self.st = NULL
        self.closed = True
        self.arenas_ready = False

    def __init__(self, port="shm:netchan", ip="198.18.0.1/15", mtu=None, clock=None, *,
                 max_conns=4096, rcvbuf=None, sndbuf=None, msl=30.0, rto_min=1.0,
                 rto_max=60.0, rto_initial=1.0, max_retries=15, syn_retries=6,
                 delayed_ack=0.04, timestamps=True, sack=True, window_scaling=True,
                 cc="cubic", nodelay=False, keepalive=None, syncookies=True,
                 challenge_ack_limit=1000, frag_timeout=30.0, frag_max_datagrams=16,
                 frag_max_bytes=1 << 20, busy_poll=50e-6, background=False,
                 export_stats=True, seed=None, ttl=64):
        # Everything that can be checked without the port is checked first,
        # so a refused setting never leaves a link claimed.
        if clock is not None and not isinstance(clock, VirtualClock):
            raise TypeError("clock must be None (real time) or a netchan.VirtualClock")
        try:
            iface = _ipaddress.IPv4Interface(ip)
        except (ValueError, TypeError):
            raise ValueError(f"ip={ip!r}: expected an IPv4 address with prefix, e.g. 198.18.0.1/15") from None
        if iface.network.prefixlen == 32 or iface.ip == iface.network.network_address:
            raise ValueError(f"ip={ip!r}: use a host address with a prefix shorter than /32")
        max_conns = int(max_conns)
        if not 1 <= max_conns <= (1 << 24):
            raise ValueError(f"max_conns={max_conns}: must be between 1 and 16777216")
        cc_id = cc_from_name(cc)
        keep = _check_keepalive(keepalive) if keepalive is not None else None
        if not (0 < rto_min <= rto_initial <= rto_max):
            raise ValueError("need 0 < rto_min <= rto_initial <= rto_max")
        if frag_timeout <= 0 or not 1 <= frag_max_datagrams <= 1024 or frag_max_bytes < 65536:
            raise ValueError("need frag_timeout > 0, 1 <= frag_max_datagrams <= 1024, "
                             "frag_max_bytes >= 65536")
        if rcvbuf is not None:
            _pow2_at_least(rcvbuf, "rcvbuf")
        if sndbuf is not None:
            _pow2_at_least(sndbuf, "sndbuf")
        if background and clock is not None:
            raise ValueError("background=True needs the real clock (a virtual clock only "
                             "moves when the test moves it)")
        self.port = self._open_port(port, mtu)
        self.uri = self.port.uri if isinstance(port, Port) else port
        self.closed = False                 # from here on, close() undoes what was done
        try:
            self._setup(port, iface, mtu, clock, max_conns, rcvbuf, sndbuf, msl, rto_min,
                        rto_max, rto_initial, max_retries, syn_retries, delayed_ack,
                        timestamps, sack, window_scaling, cc_id, nodelay, keep, syncookies,
                        challenge_ack_limit, frag_timeout, frag_max_datagrams, frag_max_bytes,
                        busy_poll, background, export_stats, seed, ttl)
        except BaseException:
            self.close(linger=0)
            raise

    def _setup(self, port, iface, mtu, clock, max_conns, rcvbuf, sndbuf, msl, rto_min,
               rto_max, rto_initial, max_retries, syn_retries, delayed_ack, timestamps, sack,
               window_scaling, cc_id, nodelay, keep, syncookies, challenge_ack_limit,
               frag_timeout, frag_max_datagrams, frag_max_bytes, busy_poll, background,
               export_stats, seed, ttl):
        self.port.check_address(str(iface.ip))
        cdef uint32_t port_mtu = self.port.p.mtu
        if mtu is not None and int(mtu) != port_mtu:
            raise ValueError(f"mtu={mtu}: the port's MTU is {port_mtu}")
        big = port_mtu > 9000
        rcv = _pow2_at_least(rcvbuf if rcvbuf is not None else (4 << 20 if big else 1 << 20), "rcvbuf")
        snd = _pow2_at_least(sndbuf if sndbuf is not None else (4 << 20 if big else 1 << 20), "sndbuf")
        self._alloc_state(max_conns)
        cdef StackState *st = self.st
        st.port = self.port.p
        memcpy(st.mac, self.port.p.mac, 6)
        st.ip = int(iface.ip)
        st.netmask = int(iface.network.netmask)
        st.mtu = port_mtu
        st.cfg.max_conns = max_conns
        st.cfg.rcvbuf = rcv
        st.cfg.sndbuf = snd
        st.cfg.chan_size = CHAN_SIZE
        st.cfg.listen_chan_size = 1024
        st.cfg.udp_chan_size = 1024
        st.cfg.msl_ns = <uint64_t>(float(msl) * 1e9)
        st.cfg.rto_init_ns = <uint64_t>(float(rto_initial) * 1e9)
        st.cfg.rto_min_ns = <uint64_t>(float(rto_min) * 1e9)
        st.cfg.rto_max_ns = <uint64_t>(float(rto_max) * 1e9)
        st.cfg.max_retries = int(max_retries)
        st.cfg.syn_retries = int(syn_retries)
        st.cfg.delack_ns = <uint64_t>(float(delayed_ack) * 1e9)
        st.cfg.arp_timeout_ns = 60 * 1000000000ULL
        st.cfg.arp_retry_ns = 1000000000ULL
        st.cfg.arp_max_tries = 5
        st.cfg.timestamps = bool(timestamps)
        st.cfg.sack = bool(sack)
        st.cfg.window_scaling = bool(window_scaling)
        st.cfg.ttl = int(ttl)
        st.cfg.cc = <uint8_t>cc_id
        st.cfg.nodelay = bool(nodelay)
        st.cfg.syncookies = bool(syncookies)
        st.cfg.challenge_ack_limit = int(challenge_ack_limit)
        st.cfg.frag_timeout_ns = <uint64_t>(float(frag_timeout) * 1e9)
        st.cfg.frag_max_bytes = int(frag_max_bytes)
        if frag_init(st, int(frag_max_datagrams)) != 0:
            raise MemoryError("cannot allocate the IPv4 reassembly slots")
        st.scratch = <uint8_t *>malloc(IPV4_MAX_LEN)
        if st.scratch == NULL:
            raise MemoryError()
        if keep is not None:
            st.cfg.keep_idle_ns, st.cfg.keep_intvl_ns, st.cfg.keep_cnt = keep
        st.arp_gen = 1
        st.tick_ns = 1000000
        rnd = _os.urandom(16) if seed is None else int(seed).to_bytes(16, "little", signed=False)
        st.isn_key0 = int.from_bytes(rnd[:8], "little")
        st.isn_key1 = int.from_bytes(rnd[8:], "little")
        rnd2 = _os.urandom(16) if seed is None else (int(seed) + 1).to_bytes(16, "little", signed=False)
        st.cookie_key0 = int.from_bytes(rnd2[:8], "little")
        st.cookie_key1 = int.from_bytes(rnd2[8:], "little")
        st.eph_next = EPHEMERAL_LO + (st.isn_key0 % (EPHEMERAL_HI - EPHEMERAL_LO + 1))
        st.ip_ident = <uint16_t>(st.isn_key1 & 0xffff)
        rc = arena_init(&st.rcv_arena, rcv, max_conns)
        if rc == 0:
            rc = arena_init(&st.snd_arena, snd, max_conns)
        self.arenas_ready = True
        if rc != 0:
            raise OSError(-rc, f"cannot set up the window arenas ({max_conns} x {rcv} B): "
                               f"{_os.strerror(-rc)}")
        self.busy_poll_ns = <uint64_t>(float(busy_poll) * 1e9)
        self.vclock = clock
        self._join_group(clock)
        self._setup_stats(bool(export_stats))
        st.now = self._now()
        st.cur_tick = st.now // st.tick_ns
        if background:
            if self.vclock is not None:
                raise ValueError("background=True needs the real clock (a pair's other end "
                                 "runs on a virtual clock)")
            import threading
            self.background = True
            self.bg_thread = threading.Thread(target=self._background_loop, daemon=True,
                                              name=f"netchan {self.uri}")
            self.bg_thread.start()

    # ---- construction helpers -------------------------------------------------

    cdef Port _open_port(self, object port, object mtu):
        if isinstance(port, Port):
            return port
        from netchan.uri import parse_port_uri
        spec = parse_port_uri(port)
        return open_port(spec, mtu)

    cdef _alloc_state(self, uint32_t max_conns):
        cdef StackState *st = <StackState *>calloc(1, sizeof(StackState))
        cdef uint32_t i, fsize
        if st == NULL:
            raise MemoryError()
        self.st = st
        st.tcbs = <Tcb *>calloc(max_conns, sizeof(Tcb))
        st.tcb_free = <uint32_t *>malloc(max_conns * sizeof(uint32_t))
        st.active = <uint32_t *>malloc(max_conns * sizeof(uint32_t))
        st.outq = <uint32_t *>malloc(max_conns * sizeof(uint32_t))
        fsize = 1024
        while fsize < 2 * max_conns:
            fsize <<= 1
        st.flows = <FlowSlot *>calloc(fsize, sizeof(FlowSlot))
        st.flow_mask = fsize - 1
        st.wheel = <uint32_t *>malloc(WHEEL_SLOTS * sizeof(uint32_t))
        st.wheel_mask = WHEEL_SLOTS - 1
        st.max_listeners = 256
        st.listeners = <Listener *>calloc(st.max_listeners, sizeof(Listener))
        st.listen_active = <int32_t *>malloc(st.max_listeners * sizeof(int32_t))
        st.listen_by_port = <int32_t *>malloc(PORT_SPACE * sizeof(int32_t))
        st.max_udp = 1024
        st.udps = <UdpSock *>calloc(st.max_udp, sizeof(UdpSock))
        st.udp_by_port = <int32_t *>malloc(PORT_SPACE * sizeof(int32_t))
        if (st.tcbs == NULL or st.tcb_free == NULL or st.active == NULL or st.outq == NULL or
                st.flows == NULL or st.wheel == NULL or st.listeners == NULL or
                st.listen_active == NULL or st.listen_by_port == NULL or st.udps == NULL or
                st.udp_by_port == NULL):
            raise MemoryError("cannot allocate the stack's tables")
        for i in range(max_conns):
            st.tcb_free[i] = max_conns - 1 - i
            st.tcbs[i].id = i
            st.tcbs[i].t_slot = NC_BUF_NONE
        st.tcb_nfree = max_conns
        for i in range(fsize):
            st.flows[i].tcb = NC_BUF_NONE
        for i in range(WHEEL_SLOTS):
            st.wheel[i] = NC_BUF_NONE
        for i in range(PORT_SPACE):
            st.listen_by_port[i] = -1
            st.udp_by_port[i] = -1
        st.cfg.chan_size = CHAN_SIZE
        st.chan_stride = nc_ring_memsize(CHAN_SIZE)
        self.chan_region = map_private(st.chan_stride * max_conns, False)
        st.chan_mem = self.chan_region.ptr

    cdef _setup_stats(self, bint export):
        """Counters live in a small shared segment so that `netchan stats`
        can read a running stack from another process."""
        cdef StackState *st = self.st
        cdef size_t size = STATS_HEADER + 8 * (C_COUNT + WIRE_ERROR_COUNT) + 4 * sizeof(nc_port_stats)
        cdef uint32_t *hdr
        kinds = []
        p = self.port
        while p is not None:
            kinds.append(type(p).__name__)
            p = p.inner
        meta = _json.dumps({
            "pid": _os.getpid(), "uri": self.uri, "ip": self.ip, "mac": self.mac,
            "counters": list(COUNTER_NAMES), "wire": list(WIRE_ERROR_NAMES[1:]),
            "port_fields": list(PORT_STAT_FIELDS), "ports": kinds[:4],
        }).encode()
        if len(meta) + 64 > STATS_HEADER:
            raise AssertionError("stats header overflow")
        if export:
            path = f"/dev/shm/netchan-stats.{_os.getpid()}.{next(_stats_seq)}"
            size = round_up(size, PAGE_SIZE)
            fd = _os.open(path, _os.O_RDWR | _os.O_CREAT | _os.O_TRUNC, 0o644)
            try:
                _os.ftruncate(fd, size)
                self.stats_region = map_fd(fd, size, False, path)
            finally:
                _os.close(fd)
            self.stats_path = path
        else:
            self.stats_region = map_private(size, False)
        hdr = <uint32_t *>self.stats_region.ptr
        hdr[1] = 1                       # version
        hdr[2] = C_COUNT
        hdr[3] = WIRE_ERROR_COUNT - 1
        hdr[4] = 4                       # port stat slots
        hdr[5] = len(meta)
        memcpy(self.stats_region.ptr + 64, <const char *>meta, len(meta))
        st.ctr = <uint64_t *>(self.stats_region.ptr + STATS_HEADER)
        st.wire_err = st.ctr + C_COUNT
        st.stats_ports = <nc_port_stats *>(st.wire_err + WIRE_ERROR_COUNT)
        nc_store_release_u32(&hdr[0], STATS_MAGIC)

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
        cdef StackState *st = self.st
        if st == NULL:
            return
        if self.arenas_ready:
            arena_destroy(&st.rcv_arena)
            arena_destroy(&st.snd_arena)
        for i in range(st.max_listeners if st.listeners != NULL else 0):
            free(st.listeners[i].aq)
            free(st.listeners[i].chan)
        for i in range(st.max_udp if st.udps != NULL else 0):
            free(st.udps[i].chan)
            _udp_free_big(&st.udps[i])
            free(st.udps[i].big)
        frag_destroy(st)
        free(st.scratch)
        free(st.tcbs)
        free(st.tcb_free)
        free(st.active)
        free(st.outq)
        free(st.flows)
        free(st.wheel)
        free(st.listeners)
        free(st.listen_active)
        free(st.listen_by_port)
        free(st.udps)
        free(st.udp_by_port)
        free(st)
        self.st = NULL

    def close(self, linger=None):
        """Reset every connection the application still holds, then close the
        port. Connections it closed already may have a FIN in flight: wait up
        to `linger` seconds for them to be acknowledged, so that a peer does
        not wait forever for a lost FIN (default: 1 s on the real clock, 0 on
        a virtual one). Memory that a live view still refers to stays mapped
        until the view and this object are gone."""
        cdef StackState *st = self.st
        cdef uint32_t i
        cdef Tcb *t
        if self.closed:
            return
        if linger is None:
            linger = 0 if self.vclock is not None else 1.0
        if linger and st != NULL and st.tcbs != NULL:
            try:
                self.run_until(self._fins_settled, timeout=linger)
            except OSError:
                pass
        if self.bg_thread is not None:
            self.bg_stop = True
            self.bg_thread.join()
            self.bg_thread = None
        self.closed = True
        if st != NULL and st.tcbs != NULL and st.ctr != NULL:
            st.now = self._now()
            for i in range(st.cfg.max_conns):
                t = &st.tcbs[i]
                # Connections the application still holds are reset; those it
                # closed already have their FIN on the way and are left be.
                if t.state == CLOSED or t.state == SYN_SENT or not (t.flags & TF_HANDLE):
                    continue
                tcp_send_rst(st, t)
            tx_flush(st)
            stack_copy_port_stats(st)
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
        """True when no FIN the application asked for is still unacknowledged."""
        cdef StackState *st = self.st
        cdef uint32_t i
        cdef Tcb *t
        for i in range(st.cfg.max_conns):
            t = &st.tcbs[i]
            if (t.state == FIN_WAIT_1 or t.state == CLOSING or t.state == LAST_ACK or
                    ((t.state == ESTABLISHED or t.state == CLOSE_WAIT) and t.flags & TF_FIN_QUEUED)):
                if st.port.ops.link_up(st.port):
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

    cdef inline uint64_t _now(self):
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

    cdef inline void _check_open(self) except *:
        if self.closed:
            raise _os_error(_EBADF, "the stack is closed")

    cdef uint32_t _poll_once(self, uint64_t now) noexcept:
        cdef uint32_t r
        if self.background:
            # A background thread polls too: the GIL is the stack's lock,
            # so the loop runs without releasing it.
            r = stack_poll(self.st, now)
        else:
            with nogil:
                r = stack_poll(self.st, now)
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
            # real clock: spin for busy_poll before paying for a sleep (and
            # for the timer scan that decides how long to sleep)
            if self.idle_since == 0:
                self.idle_since = now
            if now - self.idle_since < self.busy_poll_ns:
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
        self.st.now = max(self.st.now, self._now())
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
        cdef Listener *l
        port = int(port)
        if not 1 <= port <= 65535:
            raise ValueError(f"port={port}: must be in 1..65535")
        backlog = int(backlog)
        if not 1 <= backlog <= 65535:
            raise ValueError(f"backlog={backlog}: must be in 1..65535")
        if st.listen_by_port[port] >= 0:
            raise _os_error(_EADDRINUSE, f"TCP port {port} already has a listener")
        for i in range(st.max_listeners):
            if not st.listeners[i].active and st.listeners[i].aq == NULL:
                lid = i
                break
        if lid < 0:
            for i in range(st.max_listeners):
                if not st.listeners[i].active:
                    lid = i
                    break
        if lid < 0:
            raise _os_error(_errno.EMFILE, f"too many listeners (max {st.max_listeners})")
        l = &st.listeners[lid]
        free(l.aq)
        free(l.chan)
        memset(l, 0, sizeof(Listener))
        l.chan = <nc_ring *>malloc(nc_ring_memsize(st.cfg.listen_chan_size))
        l.aq = <uint32_t *>malloc(2 * backlog * sizeof(uint32_t))
        if l.chan == NULL or l.aq == NULL:
            raise MemoryError()
        nc_ring_init(l.chan, st.cfg.listen_chan_size)
        l.aq_cap = backlog
        l.backlog = backlog
        l.port = port
        l.active = True
        st.listen_by_port[port] = lid
        cdef TcpListener obj = TcpListener.__new__(TcpListener)
        obj.stack = self
        obj.lid = lid
        obj.port = port
        return obj

    def connect(self, address, timeout=None, source_port=None, cc=None):
        """Open a connection to (host, port); returns a Connection once it is
        established. Raises ConnectionRefusedError, TimeoutError, ..."""
        self._check_open()
        cdef StackState *st = self.st
        host, rport = address
        cdef uint32_t raddr = _ip_to_u32(host)
        rport = int(rport)
        if not 1 <= rport <= 65535:
            raise ValueError(f"port {rport} is not in 1..65535")
        if timeout is not None and float(timeout) <= 0:
            raise ValueError("connect needs timeout=None or > 0")
        if (raddr & st.netmask) != (st.ip & st.netmask):
            raise _os_error(_EHOSTUNREACH, f"{host} is not on {self.ip}'s network (no routes yet)")
        cdef uint16_t lport
        if source_port is not None:
            lport = int(source_port)
            if flow_lookup(st, raddr, rport, lport) != NC_BUF_NONE:
                raise _os_error(_EADDRINUSE, f"{self.ip}:{lport} -> {host}:{rport} is in use")
        else:
            lport = self._ephemeral(raddr, rport)
        cdef Tcb *t = tcb_alloc(st)
        if t == NULL:
            raise _os_error(_errno.ENOBUFS, "connection table or window memory exhausted "
                                            "(raise max_conns)")
        st.now = max(st.now, self._now())
        tcp_open_tcb(st, t, st.ip, raddr, lport, rport,
                     tcp_isn(st, st.ip, raddr, lport, rport, st.now))
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

    cdef uint16_t _ephemeral(self, uint32_t raddr, uint16_t rport) except 0:
        cdef StackState *st = self.st
        cdef uint32_t span = EPHEMERAL_HI - EPHEMERAL_LO + 1
        cdef uint32_t i, p
        for i in range(span):
            p = EPHEMERAL_LO + (st.eph_next - EPHEMERAL_LO + i) % span
            if st.listen_by_port[p] < 0 and flow_lookup(st, raddr, rport, <uint16_t>p) == NC_BUF_NONE:
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

    def udp(self, bind=None):
        """A UDP socket bound to bind=(ip, port); port 0 or None picks one."""
        self._check_open()
        cdef StackState *st = self.st
        host, port = bind if bind is not None else (self.ip, 0)
        if host not in (None, "", "0.0.0.0") and _ip_to_u32(host) != st.ip:
            raise _os_error(_errno.EADDRNOTAVAIL, f"{host} is not this stack's address ({self.ip})")
        port = int(port or 0)
        if port == 0:
            for i in range(EPHEMERAL_HI - EPHEMERAL_LO + 1):
                cand = EPHEMERAL_LO + (st.eph_next - EPHEMERAL_LO + i) % (EPHEMERAL_HI - EPHEMERAL_LO + 1)
                if st.udp_by_port[cand] < 0:
                    port = cand
                    break
            else:
                raise _os_error(_errno.EADDRNOTAVAIL, "no UDP port free")
        if not 1 <= port <= 65535:
            raise ValueError(f"port={port}: must be in 0..65535")
        if st.udp_by_port[port] >= 0:
            raise _os_error(_EADDRINUSE, f"UDP port {port} is in use")
        cdef int32_t uid = -1
        for i in range(st.max_udp):
            if not st.udps[i].active:
                uid = i
                break
        if uid < 0:
            raise _os_error(_errno.EMFILE, f"too many UDP sockets (max {st.max_udp})")
        cdef UdpSock *u = &st.udps[uid]
        free(u.chan)
        memset(u, 0, sizeof(UdpSock))
        u.chan = <nc_ring *>malloc(nc_ring_memsize(st.cfg.udp_chan_size))
        if u.chan == NULL:
            raise MemoryError()
        nc_ring_init(u.chan, st.cfg.udp_chan_size)
        u.port = port
        u.active = True
        st.udp_by_port[port] = uid
        cdef UdpSocket s = UdpSocket.__new__(UdpSocket)
        s.stack = self
        s.uid = uid
        s.port = port
        return s

    # ---- introspection ---------------------------------------------------------------

    @property
    def ip(self):
        return _u32_to_ip(self.st.ip)

    @property
    def network(self):
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
        d["listeners"] = sum(1 for i in range(st.max_listeners) if st.listeners[i].active)
        d["window_slots_in_use"] = st.rcv_arena.in_use + st.snd_arena.in_use
        d["window_slots_mapped"] = st.rcv_arena.next_fresh + st.snd_arena.next_fresh
        d["window_deferred_releases"] = st.rcv_arena.deferred_releases + st.snd_arena.deferred_releases
        d.update(self.port.stats())
        return d

    def arp_table(self):
        """{ip: mac} of resolved neighbours."""
        cdef StackState *st = self.st
        out = {}
        for i in range(ARP_TABLE_SIZE):
            if st.arp[i].state == ARP_REACHABLE:
                out[_u32_to_ip(st.arp[i].ip)] = ":".join(f"{st.arp[i].mac[k]:02x}" for k in range(6))
        return out


cdef class TcpListener:
    """A listening TCP port (from Stack.listen)."""
    cdef Stack stack
    cdef int32_t lid
    cdef readonly int port
    cdef bint closed

    cdef Listener *_l(self) except NULL:
        if self.closed:
            raise _os_error(_EBADF, f"listener on port {self.port} is closed")
        self.stack._check_open()
        return &self.stack.st.listeners[self.lid]

    def accept(self, timeout=None):
        """The next established connection; waits up to timeout seconds."""
        cdef Listener *l = self._l()
        cdef StackState *st = self.stack.st
        cdef uint64_t deadline = self.stack._deadline(timeout)
        cdef Tcb *t
        while True:
            t = listener_pop(st, l)
            if t != NULL:
                t.flags |= TF_ACCEPTED
                t.listener = -1
                return self.stack._wrap(t)
            self.stack._drive(deadline)
            l = self._l()

    @property
    def backlog(self):
        return self._l().backlog

    @property
    def pending(self):
        """Established connections waiting for accept()."""
        return self._l().aq_len

    @property
    def overflows(self):
        return self._l().overflows

    def close(self):
        """Stop listening; connections not yet accepted are reset."""
        cdef Listener *l
        cdef StackState *st
        cdef Tcb *t
        if self.closed or self.stack.closed:
            self.closed = True
            return
        st = self.stack.st
        l = &st.listeners[self.lid]
        st.now = max(st.now, self.stack._now())
        while True:
            t = listener_pop(st, l)
            if t == NULL:
                break
            tcp_send_rst(st, t)
            tcb_free(st, t)
        l.active = False
        st.listen_by_port[l.port] = -1
        self.closed = True
        self.stack._kick()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<netchan.Listener {self.stack.ip}:{self.port}{' closed' if self.closed else ''}>"


cdef class WindowExport:
    """The exporter behind a memoryview of a connection's window. Counts
    itself on the window's arena slot so the memory is not reused while the
    view lives; a receive view also pins its bytes against new data."""
    cdef Connection conn
    cdef uint8_t *ptr
    cdef Py_ssize_t size
    cdef uint64_t off
    cdef uint32_t slot
    cdef bint receive
    cdef bint exported
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __getbuffer__(self, Py_buffer *buf, int flags):
        if self.exported:
            raise BufferError("a window export backs exactly one memoryview")
        if self.receive and (flags & PyBUF_WRITABLE):
            raise BufferError("a receive window view is read-only")
        cdef Arena *a = self.conn._arena(self.receive)
        buf.buf = self.ptr
        buf.obj = self
        buf.len = self.size
        buf.readonly = 1 if self.receive else 0
        buf.itemsize = 1
        buf.format = "B"
        buf.ndim = 1
        self.shape[0] = self.size
        self.strides[0] = 1
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL
        arena_export(a, self.slot)
        self.exported = True
        if self.receive:
            self.conn._pin(self.off)

    def __releasebuffer__(self, Py_buffer *buf):
        cdef Arena *a
        if not self.exported:
            return
        self.exported = False
        a = self.conn._arena(self.receive)
        arena_unexport(a, self.slot)
        if self.receive:
            self.conn._unpin(self.off)


cdef class Connection:
    """An established TCP connection (from Listener.accept or Stack.connect).

    recv/recv_into/send/sendall work as on a socket. recv_view() hands out the
    readable bytes without copying; consume(n) returns them to the window.
    send_view()/commit(n) do the same for writing."""
    cdef Stack stack
    cdef StackState *st
    cdef uint32_t id
    cdef uint32_t gen
    cdef list pins
    cdef bint closed
    cdef bint rd_shut
    cdef object __weakref__

    cdef Tcb *_t(self) except NULL:
        cdef Tcb *t
        if self.closed:
            raise _os_error(_EBADF, "connection is closed")
        self.stack._check_open()
        t = &self.st.tcbs[self.id]
        if t.gen != self.gen:
            raise _os_error(_EBADF, "connection no longer exists")
        return t

    cdef Arena *_arena(self, bint receive):
        return &self.st.rcv_arena if receive else &self.st.snd_arena

    cdef void _pin(self, uint64_t off):
        cdef Tcb *t = &self.st.tcbs[self.id]
        self.pins.append(off)
        if t.gen == self.gen and off < t.rcv_pin:
            t.rcv_pin = off

    cdef void _unpin(self, uint64_t off):
        cdef Tcb *t = &self.st.tcbs[self.id]
        try:
            self.pins.remove(off)
        except ValueError:
            pass
        if t.gen == self.gen and not self.closed:
            t.rcv_pin = min(self.pins) if self.pins else <uint64_t>-1
            self._window_opened(t)

    cdef int _raise_soerror(self, Tcb *t, str what) except -1:
        raise _os_error(t.soerror, what)

    cdef void _window_opened(self, Tcb *t) noexcept:
        """After the application freed receive space: announce it when the
        right edge of the window we would now offer (SWS-avoided, capped,
        rounded to the scale) moves past the one we advertised by enough to
        matter (RFC 9293 3.8.6.2.2), or when the window was nearly shut."""
        if t.state != ESTABLISHED and t.state != FIN_WAIT_1 and t.state != FIN_WAIT_2:
            return
        if tcp_window_update_due(t):
            t.flags |= TF_WND_UPDATE
            tcp_schedule(self.st, t)
            self.stack._kick()

    cdef uint32_t _wait_readable(self, object timeout) except? 0xffffffff:
        """Bytes readable now (0 at EOF), waiting for some."""
        cdef Tcb *t = self._t()
        cdef uint64_t deadline = 0
        cdef bint have_deadline = False
        cdef uint32_t avail
        while True:
            avail = <uint32_t>(t.rcv.tail - t.rcv.head) if t.rcv.base != NULL else 0
            if avail:
                return avail
            if self.rd_shut or t.flags & TF_RCVD_FIN:
                return 0
            if t.soerror:
                self._raise_soerror(t, "recv")
            if t.state == CLOSED:
                return 0
            if not have_deadline:
                deadline = self.stack._deadline(timeout)
                have_deadline = True
            self.stack._drive(deadline)
            t = self._t()

    def recv(self, Py_ssize_t n=65536, timeout=None):
        """Up to n bytes; b"" at end of stream."""
        if n < 0:
            raise ValueError("n must be >= 0")
        cdef uint32_t avail = self._wait_readable(timeout)
        cdef Tcb *t = self._t()
        if avail == 0 or n == 0:
            return b""
        if n > avail:
            n = avail
        data = PyBytes_FromStringAndSize(<char *>window_at(&t.rcv, t.rcv.head), n)
        t.rcv.head += <uint64_t>n
        self._window_opened(t)
        return data

    def recv_into(self, buffer, Py_ssize_t nbytes=0, timeout=None):
        """Read into a writable buffer; returns the byte count (0 at EOF)."""
        cdef Py_buffer view
        PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        cdef Py_ssize_t n
        cdef uint32_t avail
        cdef Tcb *t
        try:
            n = view.len if nbytes <= 0 or nbytes > view.len else nbytes
            avail = self._wait_readable(timeout)
            t = self._t()
            if n > avail:
                n = avail
            if n:
                memcpy(view.buf, window_at(&t.rcv, t.rcv.head), n)
                t.rcv.head += <uint64_t>n
                self._window_opened(t)
            return n
        finally:
            PyBuffer_Release(&view)

    def recv_view(self, timeout=None):
        """A read-only memoryview of every byte readable now (empty at EOF),
        without consuming them. Give bytes back with consume(n); releasing
        the view does not consume. While the view lives its bytes stay put."""
        cdef uint32_t avail = self._wait_readable(timeout)
        cdef Tcb *t = self._t()
        cdef WindowExport ex = WindowExport.__new__(WindowExport)
        if avail == 0:
            return memoryview(b"")
        ex.conn = self
        ex.ptr = window_at(&t.rcv, t.rcv.head)
        ex.size = avail
        ex.off = t.rcv.head
        ex.slot = t.rcv.slot
        ex.receive = True
        return memoryview(ex)

    def consume(self, Py_ssize_t n):
        """Give the first n readable bytes back to the receive window."""
        cdef Tcb *t = self._t()
        cdef uint64_t avail = t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0
        if n < 0 or <uint64_t>n > avail:
            raise ValueError(f"consume({n}): only {avail} bytes are readable")
        t.rcv.head += <uint64_t>n
        self._window_opened(t)

    @property
    def readable(self):
        """Bytes that recv would return now without waiting."""
        cdef Tcb *t = self._t()
        return t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0

    cdef uint32_t _wait_writable(self, uint32_t want, object timeout) except? 0xffffffff:
        cdef Tcb *t = self._t()
        cdef uint64_t deadline = 0
        cdef bint have_deadline = False
        cdef uint32_t space
        while True:
            if t.soerror:
                self._raise_soerror(t, "send")
            if t.flags & TF_FIN_QUEUED or not (t.state == ESTABLISHED or t.state == CLOSE_WAIT or
                                               t.state == SYN_SENT or t.state == SYN_RECEIVED):
                raise _os_error(_EPIPE, "the connection is shut down for writing")
            if t.state == ESTABLISHED or t.state == CLOSE_WAIT:
                space = window_space(&t.snd)
                if space >= want:
                    return space
            if not have_deadline:
                deadline = self.stack._deadline(timeout)
                have_deadline = True
            self.stack._drive(deadline)
            t = self._t()

    def send(self, data, timeout=None):
        """Queue as much of data as the send window takes (waiting for room
        for at least one byte); returns the count."""
        cdef Py_buffer view
        cdef uint32_t space
        cdef Py_ssize_t n
        cdef Tcb *t
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len == 0:
                return 0
            space = self._wait_writable(1, timeout)
            t = self._t()
            n = view.len if view.len < space else space
            memcpy(window_at(&t.snd, t.snd.tail), view.buf, n)
            t.snd.tail += <uint64_t>n
            tcp_schedule(self.st, t)
            self.stack._kick()
            return n
        finally:
            PyBuffer_Release(&view)

    def sendall(self, data, timeout=None):
        """Queue all of data, waiting for room as often as needed. The
        timeout applies to the whole call."""
        cdef Py_buffer view
        cdef Py_ssize_t done = 0, n
        cdef uint32_t space
        cdef Tcb *t
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            deadline_timeout = timeout
            timed = timeout is not None and float(timeout) > 0
            if timed:
                end = self.stack._deadline(timeout)
            while done < view.len:
                if timed:
                    now = self.stack._now()
                    if now >= end:
                        raise _os_error(_ETIMEDOUT, f"sendall: {done} of {view.len} bytes queued")
                    deadline_timeout = (end - now) / 1e9
                space = self._wait_writable(1, deadline_timeout)
                t = self._t()
                n = view.len - done
                if n > space:
                    n = space
                memcpy(window_at(&t.snd, t.snd.tail), <uint8_t *>view.buf + done, n)
                t.snd.tail += <uint64_t>n
                done += n
                tcp_schedule(self.st, t)
                self.stack._kick()
        finally:
            PyBuffer_Release(&view)

    def send_view(self, Py_ssize_t min_bytes=1, timeout=None):
        """A writable memoryview of the free send window (at least min_bytes,
        waiting for them). Write into it, then commit(n) to send n bytes."""
        if min_bytes < 1:
            raise ValueError("min_bytes must be >= 1")
        cdef Tcb *t = self._t()
        if <uint64_t>min_bytes > t.snd.size:
            raise ValueError(f"min_bytes={min_bytes} exceeds the send window ({t.snd.size})")
        cdef uint32_t space = self._wait_writable(<uint32_t>min_bytes, timeout)
        t = self._t()
        cdef WindowExport ex = WindowExport.__new__(WindowExport)
        ex.conn = self
        ex.ptr = window_at(&t.snd, t.snd.tail)
        ex.size = space
        ex.off = t.snd.tail
        ex.slot = t.snd.slot
        ex.receive = False
        return memoryview(ex)

    def commit(self, Py_ssize_t n):
        """Send the first n bytes written into the latest send_view()."""
        cdef Tcb *t = self._t()
        if n < 0 or <uint64_t>n > window_space(&t.snd):
            raise ValueError(f"commit({n}): only {window_space(&t.snd)} bytes of window are free")
        if t.flags & TF_FIN_QUEUED:
            raise _os_error(_EPIPE, "the connection is shut down for writing")
        t.snd.tail += <uint64_t>n
        if n:
            tcp_schedule(self.st, t)
            self.stack._kick()

    cdef void _queue_fin(self, Tcb *t) noexcept:
        if t.flags & TF_FIN_QUEUED:
            return
        if t.state == ESTABLISHED or t.state == SYN_RECEIVED:
            t.flags |= TF_FIN_QUEUED
            tcp_set_state(self.st, t, FIN_WAIT_1)
        elif t.state == CLOSE_WAIT:
            t.flags |= TF_FIN_QUEUED
            tcp_set_state(self.st, t, LAST_ACK)
        else:
            return
        tcp_schedule(self.st, t)
        self.stack._kick()

    def shutdown(self, int how):
        """socket.SHUT_RD, SHUT_WR (send FIN after the queued data) or SHUT_RDWR."""
        if how not in (_socket.SHUT_RD, _socket.SHUT_WR, _socket.SHUT_RDWR):
            raise ValueError("how must be SHUT_RD, SHUT_WR or SHUT_RDWR")
        cdef Tcb *t = self._t()
        if t.state == SYN_SENT or t.state == CLOSED:
            raise _os_error(_ENOTCONN, "shutdown")
        if how != _socket.SHUT_WR:
            self.rd_shut = True
        if how != _socket.SHUT_RD:
            self._queue_fin(t)

    def close(self):
        """Close gracefully (FIN after queued data). Unread received data
        makes it an abortive close (RST), as RFC 2525 asks."""
        if self.closed:
            return
        cdef Tcb *t = &self.st.tcbs[self.id]
        if self.stack.closed or t.gen != self.gen:
            self.closed = True
            return
        self.st.now = max(self.st.now, self.stack._now())
        t.flags &= ~TF_HANDLE
        t.flags |= TF_APP_CLOSED
        self.closed = True
        if t.state == CLOSED or t.state == SYN_SENT:
            tcb_free(self.st, t)
            return
        if t.rcv.base != NULL and t.rcv.tail > t.rcv.head and t.state != TIME_WAIT:
            tcp_send_rst(self.st, t)
            tcb_free(self.st, t)
            self.stack._kick()
            return
        if t.state == TIME_WAIT:
            window_detach(&t.rcv, &self.st.rcv_arena)
            window_detach(&t.snd, &self.st.snd_arena)
            return
        if t.state == FIN_WAIT_2:
            t.t_2msl = self.st.now + 2 * self.st.cfg.msl_ns
            timer_rearm(self.st, t)
        self._queue_fin(t)

    def abort(self):
        """Drop the connection at once with a RST."""
        if self.closed:
            return
        cdef Tcb *t = &self.st.tcbs[self.id]
        self.closed = True
        if self.stack.closed or t.gen != self.gen:
            return
        t.flags &= ~TF_HANDLE
        if t.state != CLOSED and t.state != SYN_SENT and t.state != TIME_WAIT:
            tcp_send_rst(self.st, t)
        tcb_free(self.st, t)
        self.stack._kick()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __dealloc__(self):
        pass

    # ---- introspection -------------------------------------------------------------

    @property
    def state(self):
        """The RFC 9293 state name."""
        if self.closed:
            return "CLOSED"
        cdef Tcb *t = &self.st.tcbs[self.id]
        if t.gen != self.gen:
            return "CLOSED"
        return TCP_STATE_NAMES[t.state]

    def getpeername(self):
        cdef Tcb *t = self._t()
        return (_u32_to_ip(t.raddr), t.rport)

    def getsockname(self):
        cdef Tcb *t = self._t()
        return (_u32_to_ip(t.laddr), t.lport)

    def info(self):
        """TCP state as a dict (like Linux's TCP_INFO): windows, congestion
        control, RTT estimates in seconds, negotiated options."""
        cdef Tcb *t = self._t()
        return {
            "state": TCP_STATE_NAMES[t.state],
            "mss": t.mss, "adv_mss": t.adv_mss,
            "snd_wscale": t.snd_wscale if t.flags & TF_WS_OK else None,
            "rcv_wscale": t.rcv_wscale if t.flags & TF_WS_OK else None,
            "timestamps": bool(t.flags & TF_TS_OK), "sack": bool(t.flags & TF_SACK_OK),
            "cwnd": t.cwnd, "ssthresh": t.ssthresh,
            "srtt": t.srtt / 1e9, "rttvar": t.rttvar / 1e9, "rto": t.rto / 1e9,
            "snd_una": t.snd_una, "snd_nxt": t.snd_nxt, "snd_wnd": t.snd_wnd,
            "rcv_nxt": t.rcv_nxt, "rcv_space": tcp_rcv_space(t),
            "unacked": t.snd_max - t.snd_una,
            "send_queued": t.snd.tail - t.snd.head if t.snd.base != NULL else 0,
            "readable": t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0,
            "retries": t.retries, "backoff": t.backoff,
            "cc": CC_NAMES[t.cc], "nodelay": bool(t.flags & TF_NODELAY),
            "in_recovery": ("none", "newreno", "sack")[t.in_recovery],
            "sacked_ranges": t.sack_n, "ooo_ranges": t.ooo_n,
        }

    @property
    def nodelay(self):
        """Nagle's algorithm off (True) or on (False, the default)."""
        return bool(self._t().flags & TF_NODELAY)

    @nodelay.setter
    def nodelay(self, value):
        cdef Tcb *t = self._t()
        if value:
            t.flags |= TF_NODELAY
            tcp_schedule(self.st, t)        # anything Nagle held back goes now
            self.stack._kick()
        else:
            t.flags &= ~TF_NODELAY

    @property
    def cc(self):
        """Congestion control of this connection: "cubic" or "newreno"."""
        return CC_NAMES[self._t().cc]

    @cc.setter
    def cc(self, name):
        tcp_set_cc(self._t(), name)

    def set_keepalive(self, idle=None, interval=75.0, count=9):
        """Probe an idle connection: after `idle` seconds without input, send
        up to `count` probes `interval` seconds apart, then drop it with
        TimeoutError. idle=None turns keepalive off."""
        cdef Tcb *t = self._t()
        if idle is None:
            t.keep_cnt = 0
            t.t_keep = 0
        else:
            k_idle, k_intvl, k_cnt = _check_keepalive((idle, interval, count))
            t.keep_idle = k_idle
            t.keep_intvl = k_intvl
            t.keep_cnt = k_cnt
            t.keep_probes = 0
            if t.state == ESTABLISHED or t.state == CLOSE_WAIT or t.state == FIN_WAIT_2:
                t.t_keep = t.last_rcv + t.keep_idle
        timer_rearm(self.st, t)

    @property
    def cwnd(self):
        return self._t().cwnd

    @property
    def ssthresh(self):
        return self._t().ssthresh

    @property
    def srtt(self):
        return self._t().srtt / 1e9

    @property
    def rttvar(self):
        return self._t().rttvar / 1e9

    @property
    def rto(self):
        return self._t().rto / 1e9

    @property
    def mss(self):
        return self._t().mss

    def __repr__(self):
        try:
            local = "%s:%d" % self.getsockname()
            peer = "%s:%d" % self.getpeername()
            return f"<netchan.Connection {local} -> {peer} {self.state}>"
        except OSError:
            return "<netchan.Connection closed>"


cdef void _udp_free_big(UdpSock *u) noexcept nogil:
    cdef uint32_t i
    if u.big == NULL:
        return
    for i in range(UDP_BIG_MAX):
        free(u.big[i].data)
        u.big[i].data = NULL
    u.big_len = 0
    u.big_head = 0


cdef inline uint64_t _chan_head_seq(StackState *st, nc_ring *chan) noexcept nogil:
    """Arrival number of the datagram at the head of a UDP channel (peeked,
    not dequeued), or UINT64_MAX when the channel is empty."""
    cdef uint32_t idx
    if not nc_ring_peek(chan, 0, &idx):
        return 0xffffffffffffffffULL
    return nc_port_buf(st.port, idx).user[3]


cdef class UdpSocket:
    """A bound UDP socket (from Stack.udp). Datagrams wait in its channel
    (bounded; overflow is counted in drops) until recvfrom takes them."""
    cdef Stack stack
    cdef int32_t uid
    cdef readonly int port
    cdef bint closed

    cdef UdpSock *_u(self) except NULL:
        if self.closed:
            raise _os_error(_EBADF, "UDP socket is closed")
        self.stack._check_open()
        return &self.stack.st.udps[self.uid]

    def getsockname(self):
        return (self.stack.ip, self.port)

    @property
    def drops(self):
        return self._u().drops

    def sendto(self, data, address):
        """Send one datagram to (host, port); returns its length."""
        self._u()
        cdef StackState *st = self.stack.st
        host, port = address
        cdef uint32_t dst = _ip_to_u32(host)
        cdef Py_buffer view
        cdef int rc
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            st.now = max(st.now, self.stack._now())
            rc = udp_send(st, self.port, dst, int(port), <const uint8_t *>view.buf, view.len)
            if rc < 0:
                raise _os_error(-rc, f"sendto {host}:{port} ({view.len} bytes, MTU {st.mtu})")
            self.stack._kick()
            return view.len
        finally:
            PyBuffer_Release(&view)

    def recvfrom(self, Py_ssize_t bufsize=65536, timeout=None):
        """(data, (host, port)) of the next datagram; data is cut to bufsize."""
        cdef UdpSock *u = self._u()
        cdef StackState *st = self.stack.st
        cdef uint64_t deadline = self.stack._deadline(timeout)
        cdef uint32_t b
        cdef nc_buf *nb
        cdef uint8_t *l4
        cdef uint32_t n
        cdef BigDgram *d
        cdef bint have_small
        while True:
            have_small = nc_ring_count(u.chan) > 0
            if u.big_len and (not have_small or
                              u.big[u.big_head].seq < _chan_head_seq(st, u.chan)):
                # a reassembled datagram came first
                d = &u.big[u.big_head]
                n = d.len if d.len < bufsize else <uint32_t>bufsize
                data = PyBytes_FromStringAndSize(<char *>d.data, n)
                src = (_u32_to_ip(d.src), d.sport)
                free(d.data)
                d.data = NULL
                u.big_head = (u.big_head + 1) % UDP_BIG_MAX
                u.big_len -= 1
                return data, src
            if have_small and nc_ring_dequeue(u.chan, &b):
                break
            self.stack._drive(deadline)
            u = self._u()
        nb = nc_port_buf(st.port, b)
        l4 = nc_buf_data(nb) + (nb.user[0] & 0xffffffffu)
        n = <uint32_t>(nb.user[0] >> 32) - UDP_HLEN
        if n > bufsize:
            n = bufsize
        data = PyBytes_FromStringAndSize(<char *>l4 + UDP_HLEN, n)
        src = (_u32_to_ip(<uint32_t>nb.user[1]), rd16(l4))
        st.port.ops.free_burst(st.port, &b, 1)
        return data, src

    def close(self):
        cdef UdpSock *u
        cdef uint32_t b
        if self.closed or self.stack.closed:
            self.closed = True
            return
        u = &self.stack.st.udps[self.uid]
        while nc_ring_dequeue(u.chan, &b):
            self.stack.st.port.ops.free_burst(self.stack.st.port, &b, 1)
        _udp_free_big(u)
        u.active = False
        self.stack.st.udp_by_port[self.port] = -1
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
