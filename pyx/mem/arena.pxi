# Window arenas: one sparse memfd and one reserved virtual range per
# stack and direction; each slot is a window's ring, mapped twice back to back
# on first use, recycled without system calls, and held while a view of it is
# exported. A released slot keeps its pages for punch_after_ns (1 s), so a
# connection that drains and refills, or fast connection churn, reuses warm
# pages without a system call; arena_tick (every poll, working every
# ARENA_SWEEP_NS) punches the pages of slots free for longer out of the memfd,
# so idle and closed connections hold no window memory.
#
# A slot, once mapped, is one more memory map of the process (its two views
# merge with the neighbours' into about one VMA per slot). Mappings are made
# for slots attached at the same time, never per connection: an idle
# connection has no slot. So the number of windows holding bytes at once is
# what vm.max_map_count bounds; every arena of the process shares one budget
# (that count less ARENA_MAPS_RESERVED for the rest of the process), and a
# slot beyond it is refused (ENOBUFS, a counter) before mmap would fail and
# take Python's own allocations down with it.

cdef uint64_t _arena_maps_budget = 0     # 0: not read yet
cdef uint64_t _arena_maps_in_process = 0 # slots mapped by every arena alive


cdef uint64_t arena_map_budget() noexcept nogil:
    """Slots all arenas of this process may map: vm.max_map_count less
    ARENA_MAPS_RESERVED (read once)."""
    global _arena_maps_budget
    cdef long maps = 65530
    cdef char buf[32]
    cdef int fd
    cdef long n
    if _arena_maps_budget == 0:
        fd = sysc.open(b"/proc/sys/vm/max_map_count", sysc.O_RDONLY, 0)
        if fd >= 0:
            n = sysc.read(fd, buf, sizeof(buf) - 1)
            sysc.close(fd)
            if n > 0:
                buf[n] = 0
                maps = strtol(buf, NULL, 10)
        if maps - ARENA_MAPS_RESERVED > ARENA_MAPS_MIN_BUDGET:
            _arena_maps_budget = <uint64_t>(maps - ARENA_MAPS_RESERVED)
        else:
            _arena_maps_budget = ARENA_MAPS_MIN_BUDGET
    return _arena_maps_budget


cdef inline uint64_t arena_maps_in_process() noexcept nogil:
    return _arena_maps_in_process


cdef void arena_set_map_budget(uint64_t slots) noexcept nogil:
    """For tests: a budget other than vm.max_map_count's (0: read it again)."""
    global _arena_maps_budget
    _arena_maps_budget = slots
    arena_map_budget()

cdef int arena_init(Arena *a, uint32_t slot_size, uint32_t max_slots) noexcept nogil:
    """0, or -errno. slot_size must be a power of two >= 4096."""
    cdef size_t span = <size_t>max_slots * 2 * slot_size
    memset(a, 0, sizeof(Arena))
    a.fd = -1
    a.slot_size = slot_size
    a.max_slots = max_slots
    # sealable: a send arena shared with a shm peer is sealed against
    # shrinking (peer_windows.pxi), so the peer's mappings never fault
    a.fd = sysc.memfd_create(b"netchan-windows", sysc.MFD_CLOEXEC | sysc.MFD_ALLOW_SEALING)
    if a.fd < 0:
        return -sysc.errno
    if sysc.ftruncate(a.fd, <long>(<size_t>max_slots * slot_size)) != 0:
        return -sysc.errno
    a.va = <uint8_t *>sysc.mmap(NULL, span, sysc.PROT_NONE,
                                sysc.MAP_PRIVATE | sysc.MAP_ANONYMOUS | sysc.MAP_NORESERVE, -1, 0)
    if <void *>a.va == sysc.MAP_FAILED:
        a.va = NULL
        return -sysc.errno
    a.free_ids = <uint32_t *>malloc(max_slots * sizeof(uint32_t))
    a.exports = <uint32_t *>calloc(max_slots, sizeof(uint32_t))
    a.pending_release = <uint8_t *>calloc(max_slots, 1)
    a.free_at = <uint64_t *>malloc(max_slots * sizeof(uint64_t))
    a.punch_after_ns = ARENA_PUNCH_AFTER_NS
    arena_map_budget()
    if (a.free_ids == NULL or a.exports == NULL or a.pending_release == NULL or
            a.free_at == NULL):
        return -sysc.ENOENT
    return 0


cdef void arena_destroy(Arena *a) noexcept nogil:
    global _arena_maps_in_process
    _arena_maps_in_process -= a.next_fresh
    a.next_fresh = 0
    if a.va != NULL:
        sysc.munmap(a.va, <size_t>a.max_slots * 2 * a.slot_size)
        a.va = NULL
    if a.fd >= 0:
        sysc.close(a.fd)
        a.fd = -1
    if a.side != NULL:
        sysc.munmap(a.side, <size_t>a.max_slots * a.side_size)
        a.side = NULL
    if a.peer_holds != NULL:
        sysc.munmap(a.peer_holds, arena_share_tail(a.max_slots))
        a.peer_holds = a.gens = NULL
    free(a.free_ids)
    free(a.exports)
    free(a.pending_release)
    free(a.free_at)
    a.free_ids = NULL
    a.exports = NULL
    a.pending_release = NULL
    a.free_at = NULL


cdef int arena_side_init(Arena *a, uint32_t side_size) noexcept nogil:
    """Reserve side_size bytes per slot beside the windows (zero until
    first written; never committed for a slot never attached), rounded up to
    whole pages so that arena_tick gives a punched slot's record back too
    (an idle connection then holds none): 0 or -errno."""
    cdef void *m
    side_size = (side_size + 4095) & ~4095u
    m = sysc.mmap(NULL, <size_t>a.max_slots * side_size, sysc.PROT_READ | sysc.PROT_WRITE,
                  sysc.MAP_PRIVATE | sysc.MAP_ANONYMOUS | sysc.MAP_NORESERVE, -1, 0)
    if m == sysc.MAP_FAILED:
        return -sysc.errno
    a.side = <uint8_t *>m
    a.side_size = side_size
    return 0


cdef inline uint8_t *arena_side(const Arena *a, uint32_t slot) noexcept nogil:
    return a.side + <size_t>slot * a.side_size


cdef inline uint8_t *arena_slot_base(Arena *a, uint32_t slot) noexcept nogil:
    return a.va + <size_t>slot * 2 * a.slot_size


cdef inline uint64_t arena_bytes_in_use(const Arena *a) noexcept nogil:
    """Bytes of attached windows in a and its peer (the other direction)."""
    cdef uint64_t n = a.in_use * a.slot_size
    if a.peer != NULL:
        n += a.peer.in_use * a.peer.slot_size
    return n


cdef inline bint arena_room(const Arena *a, uint64_t extra) noexcept nogil:
    """Would `extra` more bytes of windows stay within the stack's limit?"""
    return a.limit == 0 or arena_bytes_in_use(a) + extra <= a.limit


cdef uint32_t arena_alloc(Arena *a) noexcept nogil:
    """A slot id, or NC_BUF_NONE (and last_refusal says why) when the
    stack's window memory limit is reached (limit_refusals), every slot is
    attached, the process's map budget is used (map_budget_refusals) or
    mapping fails. The most recently freed slot comes first: its pages are
    the warmest."""
    global _arena_maps_in_process
    cdef uint32_t slot
    cdef uint8_t *addr
    cdef void *r
    cdef long off
    if not arena_room(a, a.slot_size):
        a.limit_refusals += 1
        a.last_refusal = ARENA_REFUSED_LIMIT
        return NC_BUF_NONE
    if a.nfree:
        a.nfree -= 1
        if a.nclean > a.nfree:
            a.nclean = a.nfree
        a.in_use += 1
        return a.free_ids[a.nfree]
    if a.next_fresh >= a.max_slots:
        a.last_refusal = ARENA_REFUSED_SLOTS
        return NC_BUF_NONE
    if _arena_maps_in_process >= _arena_maps_budget:
        a.map_budget_refusals += 1
        a.last_refusal = ARENA_REFUSED_MAP_BUDGET
        return NC_BUF_NONE
    slot = a.next_fresh
    addr = arena_slot_base(a, slot)
    off = <long>(<size_t>slot * a.slot_size)
    r = sysc.mmap(addr, a.slot_size, sysc.PROT_READ | sysc.PROT_WRITE,
                  sysc.MAP_SHARED | sysc.MAP_FIXED, a.fd, off)
    if r == sysc.MAP_FAILED:
        a.map_failures += 1
        a.last_refusal = ARENA_REFUSED_MAP_FAILED
        return NC_BUF_NONE
    r = sysc.mmap(addr + a.slot_size, a.slot_size, sysc.PROT_READ | sysc.PROT_WRITE,
                  sysc.MAP_SHARED | sysc.MAP_FIXED, a.fd, off)
    if r == sysc.MAP_FAILED:
        a.map_failures += 1
        a.last_refusal = ARENA_REFUSED_MAP_FAILED
        return NC_BUF_NONE
    a.next_fresh += 1
    _arena_maps_in_process += 1
    a.in_use += 1
    return slot


cdef void arena__recycle(Arena *a, uint32_t slot) noexcept nogil:
    # No system call: the slot keeps its pages until arena_tick punches them
    # (if nobody takes it again within punch_after_ns).
    a.pending_release[slot] = 0
    a.free_ids[a.nfree] = slot
    a.free_at[a.nfree] = a.clock
    a.nfree += 1
    a.in_use -= 1


cdef uint32_t arena_tick(Arena *a, uint64_t now) noexcept nogil:
    """Called every poll: keeps the arena's clock, and every ARENA_SWEEP_NS
    gives back the pages of slots free for punch_after_ns or more (oldest
    first, at most ARENA_PUNCH_BATCH per sweep). Returns the slots punched."""
    cdef uint32_t n = 0
    if now > a.clock:
        a.clock = now
    if now < a.next_sweep or a.fd < 0:
        return 0
    a.next_sweep = now + ARENA_SWEEP_NS
    if a.held_pending:
        arena__recycle_unheld(a)
    while (a.nclean < a.nfree and a.free_at[a.nclean] + a.punch_after_ns <= now and
           n < ARENA_PUNCH_BATCH):
        sysc.fallocate(a.fd, sysc.FALLOC_FL_PUNCH_HOLE | sysc.FALLOC_FL_KEEP_SIZE,
                       <long>(<size_t>a.free_ids[a.nclean] * a.slot_size), a.slot_size)
        if a.side != NULL:
            sysc.madvise(arena_side(a, a.free_ids[a.nclean]), a.side_size, sysc.MADV_DONTNEED)
        a.nclean += 1
        n += 1
    if n == ARENA_PUNCH_BATCH:
        a.next_sweep = now              # more to do: the next poll goes on
    a.punches += n
    return n


cdef inline bint arena_peer_holds(const Arena *a, uint32_t slot) noexcept nogil:
    """Does the shm peer read this slot in place now (mem/peer_windows.pxi)?"""
    return a.peer_holds != NULL and nc_load_acquire_u32(&a.peer_holds[slot]) != 0


cdef bint arena__let_go(Arena *a, uint32_t slot) noexcept nogil:
    """May the slot be recycled now that no view of ours remains? Not while
    the shm peer reads it in place. A new generation first, then the look at
    the hold (Dekker, with peerwin_adopt on the peer's side: it stores its
    hold, fences, then compares the generation its frame carried): either
    the peer sees the new generation and refuses the stale frame, or we see
    its hold and keep the slot. A slot held already keeps its generation:
    frames still on their way that name it stay good while it is held (the
    bump comes when it is finally let go, from arena_tick)."""
    if a.gens == NULL:
        return True
    if arena_peer_holds(a, slot):
        return False
    nc_store_relaxed_u32(&a.gens[slot], a.gens[slot] + 1)
    nc_fence_seq_cst()
    return nc_load_relaxed_u32(&a.peer_holds[slot]) == 0


cdef void arena__recycle_unless_held(Arena *a, uint32_t slot) noexcept nogil:
    """No view of ours remains: recycle the slot, or, while the shm peer
    reads it, leave it for arena_tick to look at again (pending_release 2)."""
    if arena__let_go(a, slot):
        arena__recycle(a, slot)
    else:
        a.pending_release[slot] = 2
        a.held_pending += 1


cdef void arena_release(Arena *a, uint32_t slot) noexcept nogil:
    """The owner is done with the slot; it is recycled once no view remains
    (and the shm peer no longer reads it: arena_tick looks again)."""
    if a.exports[slot]:
        a.pending_release[slot] = 1
        a.deferred_releases += 1
    else:
        arena__recycle_unless_held(a, slot)


cdef inline void arena_export(Arena *a, uint32_t slot) noexcept nogil:
    a.exports[slot] += 1


cdef void arena_unexport(Arena *a, uint32_t slot) noexcept nogil:
    a.exports[slot] -= 1
    if a.exports[slot] == 0 and a.pending_release[slot] == 1:
        arena__recycle_unless_held(a, slot)


cdef void arena__recycle_unheld(Arena *a) noexcept nogil:
    """Recycle the released slots whose peer hold has cleared."""
    cdef uint32_t slot
    for slot in range(a.next_fresh):
        if a.pending_release[slot] == 2 and arena__let_go(a, slot):
            a.held_pending -= 1
            arena__recycle(a, slot)
