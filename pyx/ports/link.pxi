# pair and shm ports: the two ends of one emulated Ethernet link.
#
# Both are the same segment layout; `shm:NAME` puts it in a named shared file
# so two processes can attach, `pair:NAME` keeps it in private memory so two
# stacks in one process are wired back to back (for tests on a virtual clock).
#
# Segment layout (offsets identical in both processes, no pointers inside):
#
#   header page      LinkHeader: geometry, one LinkSide per end
#   side 0 area      free stack | tx ring (0 -> 1) | return ring | buffer slots
#   side 1 area      the same for side 1
#
# Every ring is single-producer/single-consumer:
#   tx ring s        produced by s, consumed by the peer. Carries indices
#                    relative to the sender: bit 31 clear = the sender's pool,
#                    set = the receiver's own pool (a buffer sent back, e.g.
#                    an echo reply built in place). The receiver flips bit 31.
#   return ring s    produced by the peer, consumed by s: slots of s's pool
#                    the peer has finished with. s alone touches its free stack.
# Rings are sized so they can never be full (tx: 2 x nbufs, return: nbufs),
# so tx_burst and free_burst never fail for lack of ring room.
#
# Sleeping: an end with nothing to do sets its `sleeping` flag, fences, looks
# once more, then futex-waits on its `doorbell`. A sender that published
# frames fences and, if the peer sleeps, bumps the peer's doorbell and wakes
# it. The two fences make it impossible for both to miss each other.
# `sleeping` is a bit set: LINK_SLEEP_FUTEX while a blocking call waits on the
# futex, LINK_SLEEP_BELL while an event loop sleeps on this side's bell fd
# (Port.fileno: a FIFO beside an shm link file, a pipe for a pair); the
# sender rings what is set, the bell by writing one byte. Same fences.

cdef struct LinkSide:
    uint32_t attached
    int32_t pid
    uint8_t mac[8]
    uint32_t doorbell
    uint32_t sleeping
    uint64_t freestack_off
    uint64_t txring_off
    uint64_t retring_off
    uint64_t slots_off
    int32_t lost_peer_pid       # the dead peer this side has let go of (see link_link_up)
    uint32_t _pad32
    WindowBoard board           # this side's send windows, for the peer to read in place
    uint64_t _pad[1]

cdef struct LinkHeader:
    uint32_t magic
    uint32_t version
    uint32_t mtu
    uint32_t nbufs
    uint32_t stride
    uint32_t data_room
    uint32_t txring_size
    uint32_t retring_size
    uint64_t total_size
    uint64_t _pad[4]
    LinkSide side[2]

cdef struct LinkPortState:
    nc_port port                 # first: an nc_port* is a LinkPortState*
    LinkHeader *hdr
    int side
    nc_freestack *fs             # own pool's free stack
    nc_ring *tx                  # own tx ring (we produce)
    nc_ring *rx                  # peer's tx ring (we consume)
    nc_ring *ret_own             # returns of our buffers (we consume)
    nc_ring *ret_peer            # returns of the peer's buffers (we produce)
    LinkSide *me
    LinkSide *peer
    bint shared                  # across processes: the peer may die
    int32_t gone_pid             # the peer's pid, found dead (0: none)
    bint ack_due                 # tell a newcomer (lost_peer_pid) at the next rx_burst
    uint64_t peer_checked_ns     # last time the peer's pid was checked
    int bell_rd                  # our bell (read end; an shm FIFO is O_RDWR), -1: none
    int bell_wr                  # the peer's bell (write end), -1: none
    bint share_windows           # the stack on it may publish its send windows (windows=shared)


cdef uint32_t LINK_MAGIC = 0x4e434c4b     # "NCLK"
cdef uint32_t LINK_VERSION = 2           # 2: rings with a cache guard line (ring.h layout "NCR2")
cdef uint32_t LINK_SLEEP_FUTEX = 1
cdef uint32_t LINK_SLEEP_BELL = 2


cdef inline uint32_t next_pow2(uint32_t x) noexcept nogil:
    cdef uint32_t p = 1
    while p < x:
        p <<= 1
    return p


cdef size_t link_layout(LinkHeader *h, uint32_t mtu, uint32_t nbufs) noexcept nogil:
    """Fill geometry and per-side offsets; returns the total segment size."""
    cdef size_t off = round_up(sizeof(LinkHeader), 4096)
    cdef int s
    h.mtu = mtu
    h.nbufs = nbufs
    # a frame is Ethernet + the IP MTU
    h.data_room = <uint32_t>round_up(mtu + ETH_HLEN, 64)
    h.stride = nc_pool_stride_for(h.data_room)
    h.txring_size = next_pow2(2 * nbufs)
    h.retring_size = next_pow2(nbufs)
    for s in range(2):
        h.side[s].freestack_off = off
        off = round_up(off + nc_freestack_memsize(nbufs), 64)
        h.side[s].txring_off = off
        off = round_up(off + nc_ring_memsize(h.txring_size), 64)
        h.side[s].retring_off = off
        off = round_up(off + nc_ring_memsize(h.retring_size), 4096)
        h.side[s].slots_off = off
        off = round_up(off + <size_t>nbufs * h.stride, 4096)
    h.total_size = off
    return off


cdef void link_format(uint8_t *base, uint32_t mtu, uint32_t nbufs, const uint8_t *mac0,
                      const uint8_t *mac1) noexcept nogil:
    """Initialise a whole segment. Nobody else may be using it."""
    cdef LinkHeader *h = <LinkHeader *>base
    cdef nc_pool pool
    cdef int s
    h.magic = 0
    h.version = LINK_VERSION
    link_layout(h, mtu, nbufs)
    for s in range(2):
        h.side[s].attached = 0
        h.side[s].pid = 0
        h.side[s].doorbell = 0
        h.side[s].sleeping = 0
        h.side[s].lost_peer_pid = 0
        memset(&h.side[s].board, 0, sizeof(WindowBoard))
        memcpy(h.side[s].mac, mac0 if s == 0 else mac1, 6)
        nc_freestack_init_full(<nc_freestack *>(base + h.side[s].freestack_off), nbufs)
        nc_ring_init(<nc_ring *>(base + h.side[s].txring_off), h.txring_size)
        nc_ring_init(<nc_ring *>(base + h.side[s].retring_off), h.retring_size)
        pool.base = base + h.side[s].slots_off
        pool.stride = h.stride
        pool.hdr_off = 0
        pool.count = nbufs
        pool.data_room = h.data_room
        nc_pool_format(&pool)
    # release: the segment is complete before anyone can see the magic.
    nc_store_release_u32(&h.magic, LINK_MAGIC)


cdef inline long futex_wait(uint32_t *addr, uint32_t expected, uint64_t timeout_ns) noexcept nogil:
    cdef sysc.timespec ts
    ts.tv_sec = <long>(timeout_ns // 1000000000ULL)
    ts.tv_nsec = <long>(timeout_ns % 1000000000ULL)
    return sysc.syscall(sysc.SYS_futex, addr, sysc.FUTEX_WAIT, expected, &ts, NULL, 0)


cdef inline long futex_wake(uint32_t *addr) noexcept nogil:
    # every sleeper: with a background thread, two may wait on one doorbell
    return sysc.syscall(sysc.SYS_futex, addr, sysc.FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0)


# ---- the vtable -------------------------------------------------------------

cdef void link__drain_returns(LinkPortState *lp) noexcept nogil:
    cdef uint32_t tmp[256]
    cdef uint32_t k
    while True:
        k = nc_ring_dequeue_burst(lp.ret_own, tmp, 256)
        if k == 0:
            break
        lp.port.stats.double_free += nc_pool_free_burst(&lp.port.pools[0], lp.fs, tmp, k)


cdef inline bint link__peer_gone(LinkPortState *lp) noexcept nogil:
    """The peer attached now is the one found dead (no one has re-attached)."""
    return lp.gone_pid != 0 and nc_load_relaxed_u32(<uint32_t *>&lp.peer.pid) == <uint32_t>lp.gone_pid


cdef uint32_t link_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef LinkPortState *lp = <LinkPortState *>p
    cdef uint32_t k, i
    if lp.ack_due and (p.peer_lost_handled == p.stats.peer_lost or
                       p.peer_lost_handled == NC_PEER_LOST_NO_STACK):
        # The stack above has let go of everything from the dead peer (or
        # no stack uses this port): a newcomer waiting in open_shm may take
        # the dead side now. Release: pairs with the newcomer's acquire load
        # of lost_peer_pid.
        lp.ack_due = False
        nc_store_release_u32(<uint32_t *>&lp.me.lost_peer_pid, <uint32_t>lp.gone_pid)
    k = nc_ring_dequeue_burst(lp.rx, bufs, n)
    for i in range(k):
        bufs[i] ^= NC_BUF_POOL_BIT      # sender-relative -> receiver-relative
        p.stats.rx_bytes += nc_buf_frame_bytes(nc_port_buf(p, bufs[i]))
    p.stats.rx_packets += k
    return k


cdef uint32_t link_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef LinkPortState *lp = <LinkPortState *>p
    cdef uint32_t k, i
    if not nc_load_acquire_u32(&lp.peer.attached) or link__peer_gone(lp):
        # no cable: the frames are gone, as on a real link with the peer down
        link_free_burst(p, bufs, n)
        p.stats.tx_dropped += n
        return n
    for i in range(n):
        p.stats.tx_bytes += nc_buf_frame_bytes(nc_port_buf(p, bufs[i]))
    k = nc_ring_enqueue_burst(lp.tx, bufs, n)   # never short: see ring sizes
    p.stats.tx_packets += k
    if k:
        # StoreLoad: the new tail must be visible before we read the peer's
        # sleeping flag, or the peer could decide to sleep on a ring that
        # just became non-empty. Pairs with the fence in link_wait.
        nc_fence_seq_cst()
        link__ring_peer(lp)
    return k


cdef inline void link__ring_peer(LinkPortState *lp) noexcept nogil:
    """Wake the peer the way it said it sleeps (the fence is the caller's)."""
    cdef uint32_t s = nc_load_relaxed_u32(&lp.peer.sleeping)
    cdef uint8_t one = 1
    if s & LINK_SLEEP_BELL and lp.bell_wr >= 0:
        nc_fd_write(lp.bell_wr, &one, 1)     # EAGAIN: full, so readable already
    if s & LINK_SLEEP_FUTEX:
        nc_store_relaxed_u32(&lp.peer.doorbell, lp.peer.doorbell + 1)
        futex_wake(&lp.peer.doorbell)


cdef uint32_t link_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef LinkPortState *lp = <LinkPortState *>p
    cdef uint32_t k
    if lp.fs.count < n:
        link__drain_returns(lp)
    k = nc_pool_alloc_burst(&p.pools[0], lp.fs, bufs, n, 0)
    if k < n:
        p.stats.alloc_failed += n - k
    return k


cdef void link_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef LinkPortState *lp = <LinkPortState *>p
    cdef uint32_t own[64]
    cdef uint32_t peer[64]
    cdef uint32_t no = 0, np = 0, i, slot
    for i in range(n):
        if bufs[i] & NC_BUF_POOL_BIT:
            slot = bufs[i] & NC_BUF_SLOT_MASK
            if slot >= lp.hdr.nbufs:
                p.stats.double_free += 1
                continue
            peer[np] = slot
            np += 1
            if np == 64:
                nc_ring_enqueue_burst(lp.ret_peer, peer, np)
                np = 0
        else:
            own[no] = bufs[i]
            no += 1
            if no == 64:
                p.stats.double_free += nc_pool_free_burst(&p.pools[0], lp.fs, own, no)
                no = 0
    if np:
        nc_ring_enqueue_burst(lp.ret_peer, peer, np)
    if no:
        p.stats.double_free += nc_pool_free_burst(&p.pools[0], lp.fs, own, no)


cdef uint64_t link_next_deadline(nc_port *p) noexcept nogil:
    return <uint64_t>-1


cdef void link_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil:
    cdef LinkPortState *lp = <LinkPortState *>p
    cdef uint32_t bell
    if not lp.shared or timeout_ns == 0:
        return
    bell = nc_load_relaxed_u32(&lp.me.doorbell)
    nc_store_relaxed_u32(&lp.me.sleeping, nc_load_relaxed_u32(&lp.me.sleeping) | LINK_SLEEP_FUTEX)
    # StoreLoad: publish "sleeping" before the last look at the ring; pairs
    # with the fence in link_tx_burst.
    nc_fence_seq_cst()
    if nc_ring_count(lp.rx) == 0:
        futex_wait(&lp.me.doorbell, bell, timeout_ns)
    nc_store_relaxed_u32(&lp.me.sleeping, nc_load_relaxed_u32(&lp.me.sleeping) & ~LINK_SLEEP_FUTEX)


cdef bint link_bell_arm(LinkPortState *lp) noexcept nogil:
    """An event loop is about to sleep on our bell: ask the peer to ring it.
    False when frames are waiting already (then the loop polls instead)."""
    nc_store_relaxed_u32(&lp.me.sleeping, nc_load_relaxed_u32(&lp.me.sleeping) | LINK_SLEEP_BELL)
    # StoreLoad, as in link_wait: pairs with the fence in link_tx_burst.
    nc_fence_seq_cst()
    if nc_ring_count(lp.rx) != 0:
        nc_store_relaxed_u32(&lp.me.sleeping, nc_load_relaxed_u32(&lp.me.sleeping) & ~LINK_SLEEP_BELL)
        return False
    return True


cdef void link_bell_disarm(LinkPortState *lp) noexcept nogil:
    nc_store_relaxed_u32(&lp.me.sleeping, nc_load_relaxed_u32(&lp.me.sleeping) & ~LINK_SLEEP_BELL)
    fd_drain(lp.bell_rd)


cdef int link_link_up(nc_port *p) noexcept nogil:
    """Up while the peer is attached and, across processes, alive. A peer
    that died cannot detach: its pid is checked here (kill 0), and when it is
    gone the frames it left in our rx ring are freed and a newcomer is told,
    at the next rx_burst, that it may take the dead side."""
    cdef LinkPortState *lp = <LinkPortState *>p
    cdef int32_t pid
    cdef uint32_t k, i
    cdef uint32_t bufs[64]
    if not nc_load_acquire_u32(&lp.peer.attached):
        return 0
    if not lp.shared:
        return 1
    if link__peer_gone(lp):
        return 0
    pid = <int32_t>nc_load_relaxed_u32(<uint32_t *>&lp.peer.pid)
    if pid > 0 and sysc.kill(pid, 0) != 0 and sysc.errno == sysc.ESRCH:
        lp.gone_pid = pid
        lp.ack_due = True
        p.stats.peer_lost += 1
        while True:
            k = nc_ring_dequeue_burst(lp.rx, bufs, 64)
            if k == 0:
                break
            for i in range(k):
                bufs[i] ^= NC_BUF_POOL_BIT
            link_free_burst(p, bufs, k)
        return 0
    return 1


cdef void link_close(nc_port *p) noexcept nogil:
    pass    # detaching needs the file lock: LinkPort.close() does it


cdef nc_port_ops LINK_OPS


LINK_OPS.rx_burst = link_rx_burst


LINK_OPS.tx_burst = link_tx_burst


LINK_OPS.alloc_burst = link_alloc_burst


LINK_OPS.free_burst = link_free_burst


LINK_OPS.next_deadline = link_next_deadline


LINK_OPS.wait = link_wait


LINK_OPS.link_up = link_link_up


LINK_OPS.close = link_close


# ---- Python side: attach, detach, the pair registry ------------------------

cdef class LinkPort(Port):
    """One end of a pair or shm link."""
    cdef LinkPortState *lp
    cdef MappedRegion region
    cdef readonly str name
    cdef readonly int side
    cdef readonly bint shared
    cdef object lock_path

    def __dealloc__(self):
        if self.lp != NULL:
            if self.shared:
                _link_close_bells(self.lp)
            free(self.lp)
            self.lp = NULL

    cdef int _bell_fd(self) noexcept:
        return self.lp.bell_rd if self.lp != NULL else -1

    cdef bint _arm(self, uint64_t wait_ns) except -1:
        return self.lp.bell_rd < 0 or link_bell_arm(self.lp)

    cdef void _disarm(self) noexcept:
        if self.lp.bell_rd >= 0:
            link_bell_disarm(self.lp)

    cdef _bind(self, MappedRegion region, int side, bint shared):
        cdef LinkHeader *h = <LinkHeader *>region.ptr
        cdef uint8_t *base = region.ptr
        cdef int peer = 1 - side
        self.region = region
        self.side = side
        self.shared = shared
        self.lp = <LinkPortState *>calloc(1, sizeof(LinkPortState))
        if self.lp == NULL:
            raise MemoryError()
        self.p = &self.lp.port
        self.lp.hdr = h
        self.lp.bell_rd = -1
        self.lp.bell_wr = -1
        self.lp.side = side
        self.lp.shared = shared
        self.lp.me = &h.side[side]
        self.lp.peer = &h.side[peer]
        self.lp.fs = <nc_freestack *>(base + h.side[side].freestack_off)
        self.lp.tx = <nc_ring *>(base + h.side[side].txring_off)
        self.lp.rx = <nc_ring *>(base + h.side[peer].txring_off)
        self.lp.ret_own = <nc_ring *>(base + h.side[side].retring_off)
        self.lp.ret_peer = <nc_ring *>(base + h.side[peer].retring_off)
        self.p.ops = &LINK_OPS
        for i, s in enumerate((side, peer)):
            self.p.pools[i].base = base + h.side[s].slots_off
            self.p.pools[i].stride = h.stride
            self.p.pools[i].hdr_off = 0
            self.p.pools[i].count = h.nbufs
            self.p.pools[i].data_room = h.data_room
        memcpy(self.p.mac, h.side[side].mac, 6)
        self.p.mtu = h.mtu
        # shm: the peer is a netchan stack in this host's memory; nothing on
        # the way can corrupt a frame but a fault wrapper, which clears
        # NC_BUF_F_CSUM_OK on what it corrupts (so that is still caught)
        self.p.caps = ((NC_CAP_SLEEP | NC_CAP_PEER_HOST | NC_CAP_CSUM_TRUSTED) if shared
                       else NC_CAP_VIRTUAL_TIME)
        self.p.peer_lost_handled = NC_PEER_LOST_NO_STACK

    cdef bint _window_boards(self, WindowBoard **me, WindowBoard **peer) noexcept:
        """Where the stack on this end publishes its send windows and finds
        the peer's (iface/shared_windows.pxi); False when this link copies
        (windows=copy)."""
        if not self.lp.share_windows:
            return False
        me[0] = &self.lp.me.board
        peer[0] = &self.lp.peer.board
        return True

    @property
    def windows(self):
        """'shared': the stacks on this link read each other's send windows
        in place (shm's default); 'copy': every payload crosses in a frame."""
        return "shared" if self.lp.share_windows else "copy"

    @property
    def peer_attached(self):
        return bool(self.lp.peer.attached)

    @property
    def peer_mac(self):
        return ":".join(f"{self.lp.peer.mac[i]:02x}" for i in range(6))

    def _own_stats(self):
        cdef nc_port_stats *s = &self.p.stats
        return {
            "port_rx_packets": s.rx_packets, "port_rx_bytes": s.rx_bytes,
            "port_tx_packets": s.tx_packets, "port_tx_bytes": s.tx_bytes,
            "port_tx_dropped": s.tx_dropped, "port_alloc_failed": s.alloc_failed,
            "port_double_free": s.double_free,
            # buffers the peer has handed back count as free: they sit in the
            # return ring until an allocation runs short and reclaims them
            "port_bufs_free": self.lp.fs.count + nc_ring_count(self.lp.ret_own),
            "port_bufs_total": self.lp.hdr.nbufs,
            "port_link_up": int(self.p.ops.link_up(self.p) != 0),
        }

    def _close(self):
        _link_close(self)


def _link_macs(str name):
    """Locally administered, stable per link name: 02:6e:63:hh:hh:0s."""
    import hashlib
    h = hashlib.blake2s(name.encode(), digest_size=2).digest()
    return bytes([0x02, 0x6e, 0x63, h[0], h[1], 0x00]), bytes([0x02, 0x6e, 0x63, h[0], h[1], 0x01])


cdef _check_link_params(uint32_t mtu, uint32_t nbufs):
    if mtu < 576 or mtu > 65535:
        raise ValueError(f"link MTU must be in 576..65535, not {mtu}")
    if nbufs < 64 or nbufs > (1 << 24):
        raise ValueError(f"link buffer count (bufs=) must be in 64..16777216, not {nbufs}")


# pair: name -> [region, taken sides]
_pairs = {}


def open_pair(str name, uint32_t mtu=1500, uint32_t nbufs=4096, windows=None):
    """The next free end of in-process link `name` (created on first use).
    windows=True has the two stacks read each other's send windows in place,
    as on shm (the default here is to copy: None or False)."""
    cdef bint share = bool(windows)
    _check_link_params(mtu, nbufs)
    cdef LinkHeader tmp
    cdef MappedRegion region
    entry = _pairs.get(name)
    if entry is None:
        size = link_layout(&tmp, mtu, nbufs)
        region = map_private(size, None)
        mac0, mac1 = _link_macs("pair:" + name)
        link_format(region.ptr, mtu, nbufs, mac0, mac1)
        entry = _pairs[name] = [region, [False, False], [_nonblocking_pipe(), _nonblocking_pipe()]]
    region = entry[0]
    cdef LinkHeader *h = <LinkHeader *>region.ptr
    if h.mtu != mtu:
        raise ValueError(f"pair:{name} has MTU {h.mtu}; open its second end with mtu={h.mtu}")
    taken = entry[1]
    if taken[0] and taken[1]:
        raise OSError(_errno.EBUSY, f"pair:{name} already has two ends")
    side = 0 if not taken[0] else 1
    taken[side] = True
    cdef LinkPort port = LinkPort.__new__(LinkPort)
    port._bind(region, side, False)
    port.lp.bell_rd = entry[2][side][0]         # the pipes belong to the pair entry
    port.lp.bell_wr = entry[2][1 - side][1]
    port.name = name
    port.uri = f"pair:{name}"
    _link_set_windows(port, share)
    h.side[side].pid = _os.getpid()
    nc_store_release_u32(&h.side[side].attached, 1)
    return port


cdef _link_set_windows(LinkPort port, bint share):
    memset(&port.lp.me.board, 0, sizeof(WindowBoard))
    port.lp.share_windows = share
    if share:
        # the payload of a frame by reference is not in the frame: there is
        # nothing to sum, and the peer is a netchan stack in this host's memory
        port.p.caps |= NC_CAP_CSUM_TRUSTED


def pid_alive(int pid):
    """Does process pid exist (as far as this process can tell)?"""
    if pid <= 0:
        return False
    try:
        _os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def open_shm(str name, mtu=None, nbufs=None, hugepages=None, windows=None):
    """Attach to shared-memory link `name`, creating it if this is the first
    end. The second end adopts the link's MTU when mtu is None. windows=True
    (or None, the default) has the two stacks read each other's send windows
    in place; False sends every payload inside its frame."""
    import fcntl
    cdef bint share = windows is None or bool(windows)
    if not name or "/" in name or len(name) > 200:
        raise ValueError(f"shm link name must be a non-empty file name, not {name!r}")
    req_mtu = 1500 if mtu is None else int(mtu)
    req_bufs = (4096 if req_mtu <= 9000 else 1024) if nbufs is None else int(nbufs)
    _check_link_params(req_mtu, req_bufs)
    cdef LinkHeader tmp
    cdef size_t size = link_layout(&tmp, req_mtu, req_bufs)
    path, huge, fsize = shared_file_path(f"netchan-link-{name}", size, hugepages)
    # The second end must find the first end's file wherever it went (whether
    # hugepages were free may differ between the two moments).
    mount = _hugepages.mount_for()
    for cand, cand_huge in ((f"/dev/shm/netchan-link-{name}", False),
                            (None if mount is None else _os.path.join(mount, f"netchan-link-{name}"), True)):
        if cand is not None and cand != path and _os.path.exists(cand):
            path, huge = cand, cand_huge
            break
    cdef MappedRegion region
    cdef LinkHeader *h
    while True:
        fd = _os.open(path, _os.O_RDWR | _os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            st = _os.fstat(fd)
            try:
                same = _os.stat(path).st_ino == st.st_ino
            except FileNotFoundError:
                same = False
            if not same:
                continue        # unlinked by a detaching end while we waited: retry
            creating = st.st_size == 0
            if not creating:
                region = map_fd(fd, st.st_size, huge, path)
                h = <LinkHeader *>region.ptr
                if nc_load_acquire_u32(&h.magic) != LINK_MAGIC or h.version != LINK_VERSION:
                    creating = True     # a creator died before finishing: redo it
                else:
                    alive = [h.side[s].attached and pid_alive(h.side[s].pid) for s in range(2)]
                    stale = [h.side[s].attached and not alive[s] for s in range(2)]
                    if not alive[0] and not alive[1]:
                        creating = True     # every end is gone: start afresh
                    elif any(stale):
                        # a restarted peer takes the dead end's place, once
                        # the survivor has let go of it
                        creating = not _link_take_over(h, 0 if stale[0] else 1, name)
            if creating:
                region = None
                _os.ftruncate(fd, 0)
                _os.ftruncate(fd, fsize)
                region = map_fd(fd, fsize, huge, path)
                mac0, mac1 = _link_macs("shm:" + name)
                link_format(region.ptr, req_mtu, req_bufs, mac0, mac1)
            h = <LinkHeader *>region.ptr
            if mtu is not None and h.mtu != req_mtu:
                raise ValueError(
                    f"shm:{name} was created with MTU {h.mtu}; pass mtu={h.mtu} "
                    f"(or leave it out) to join it")
            if h.side[0].attached and h.side[1].attached:
                raise OSError(_errno.EBUSY,
                              f"shm:{name} already has two ends (pids {h.side[0].pid} "
                              f"and {h.side[1].pid})")
            side = 0 if not h.side[0].attached else 1
            port = LinkPort.__new__(LinkPort)
            (<LinkPort>port)._bind(region, side, True)
            (<LinkPort>port).name = name
            (<LinkPort>port).uri = f"shm:{name}"
            (<LinkPort>port).lock_path = path
            _link_set_windows(<LinkPort>port, share)
            _link_open_bells((<LinkPort>port).lp, path, name, side)
            # Returns that arrived after the previous occupant left are ours now.
            link__drain_returns((<LinkPort>port).lp)
            h.side[side].pid = _os.getpid()
            h.side[side].sleeping = 0
            nc_store_release_u32(&h.side[side].attached, 1)
            return port
        finally:
            # Unlock explicitly: the mapping keeps the open file description
            # (and so a flock on it) alive after close().
            fcntl.flock(fd, fcntl.LOCK_UN)
            _os.close(fd)


LINK_TAKEOVER_WAIT = 3.0      # seconds a newcomer waits for the survivor to let go


cdef bint _link_take_over(LinkHeader *h, int dead, str name) except -1:
    """Side `dead` of a link belongs to a process that died; the other side
    lives. Wait (holding the link's lock) until the survivor has let go of
    everything the dead end had (it writes lost_peer_pid when its stack has
    polled: see link_link_up), then make the dead side fresh for us: all
    its buffers free, its return ring emptied. False if the survivor died
    too meanwhile (the caller then starts the link afresh)."""
    import time
    cdef int live = 1 - dead
    cdef int32_t dead_pid = h.side[dead].pid
    cdef uint8_t *base = <uint8_t *>h
    cdef uint32_t tmp[256]
    cdef nc_pool pool
    give_up = time.monotonic() + LINK_TAKEOVER_WAIT
    while <int32_t>nc_load_acquire_u32(<uint32_t *>&h.side[live].lost_peer_pid) != dead_pid:
        if not pid_alive(h.side[live].pid):
            return False
        if time.monotonic() > give_up:
            raise OSError(_errno.EBUSY,
                          f"shm:{name}: the end of pid {dead_pid} died and the surviving end "
                          f"(pid {h.side[live].pid}) has not let go of it within "
                          f"{LINK_TAKEOVER_WAIT:g} s; it does when its stack runs (a blocking "
                          f"call, poll(), or Stack(background=True))")
        time.sleep(0.002)
    # The survivor drained the dead side's tx ring and holds none of its
    # buffers: the returns still queued for the dead side are void, and every
    # buffer of its pool is free again.
    while nc_ring_dequeue_burst(<nc_ring *>(base + h.side[dead].retring_off), tmp, 256):
        pass
    nc_freestack_init_full(<nc_freestack *>(base + h.side[dead].freestack_off), h.nbufs)
    pool.base = base + h.side[dead].slots_off
    pool.stride = h.stride
    pool.hdr_off = 0
    pool.count = h.nbufs
    pool.data_room = h.data_room
    nc_pool_format(&pool)
    h.side[dead].sleeping = 0
    memset(&h.side[dead].board, 0, sizeof(WindowBoard))
    h.side[dead].pid = 0
    nc_store_release_u32(&h.side[dead].attached, 0)     # free for us to take below
    return True


def _link_close(LinkPort port):
    cdef LinkHeader *h = port.lp.hdr
    cdef int side = port.side
    if not port.shared:
        nc_store_release_u32(&h.side[side].attached, 0)
        entry = _pairs.get(port.name)
        if entry is not None and entry[0] is port.region:
            entry[1][side] = False
            if not h.side[1 - side].attached:
                del _pairs[port.name]
                for rd, wr in entry[2]:
                    _os.close(rd)
                    _os.close(wr)
        port.lp.bell_rd = port.lp.bell_wr = -1
        return
    import fcntl
    path = port.lock_path
    try:
        fd = _os.open(path, _os.O_RDWR)
    except FileNotFoundError:
        nc_store_release_u32(&h.side[side].attached, 0)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        same = _os.fstat(fd).st_ino == _os.stat(path).st_ino
        nc_store_release_u32(&h.side[side].attached, 0)
        h.side[side].pid = 0
        nc_store_release_u32(&h.side[side].board.epoch, 0)
        nc_store_release_u64(&h.side[side].board.mapped, 0)
        # wake the peer so it notices the link went down
        nc_store_relaxed_u32(&h.side[1 - side].doorbell, h.side[1 - side].doorbell + 1)
        futex_wake(&h.side[1 - side].doorbell)
        if port.lp.bell_wr >= 0:
            nc_fd_write(port.lp.bell_wr, b"x", 1)
        peer_alive = h.side[1 - side].attached and pid_alive(h.side[1 - side].pid)
        if same and not peer_alive:
            _os.unlink(path)
            for s in range(2):
                try:
                    _os.unlink(_link_bell_path(port.name, s))
                except FileNotFoundError:
                    pass
    except FileNotFoundError:
        pass
    finally:
        _link_close_bells(port.lp)
        fcntl.flock(fd, fcntl.LOCK_UN)
        _os.close(fd)


# ---- bells: the wake-up fds (Port.fileno; see pyx/ports/base.pxi) -----------

def _nonblocking_pipe():
    rd, wr = _os.pipe2(_os.O_NONBLOCK | _os.O_CLOEXEC)
    return rd, wr


def _link_bell_path(str name, int side):
    """Always in /dev/shm, whichever file system holds the link (hugetlbfs
    has no FIFOs)."""
    return f"/dev/shm/netchan-link-{name}.bell{side}"


cdef _link_open_bells(LinkPortState *lp, str path, str name, int side):
    """Open both FIFOs of shm link `name` (made here if missing, under the
    link's lock): ours to sleep on, the peer's to ring. O_RDWR, so that an
    open never blocks and a write never fails for want of a reader."""
    fds = []
    try:
        for s in (side, 1 - side):
            bell = _link_bell_path(name, s)
            try:
                _os.mkfifo(bell, 0o600)
            except FileExistsError:
                pass
            fds.append(_os.open(bell, _os.O_RDWR | _os.O_NONBLOCK | _os.O_CLOEXEC))
    except OSError:
        for fd in fds:
            _os.close(fd)
        raise
    lp.bell_rd, lp.bell_wr = fds
    fd_drain(lp.bell_rd)           # whatever a previous occupant left


cdef void _link_close_bells(LinkPortState *lp) noexcept:
    if lp.bell_rd >= 0:
        sysc.close(lp.bell_rd)
    if lp.bell_wr >= 0:
        sysc.close(lp.bell_wr)
    lp.bell_rd = lp.bell_wr = -1
