# Zero-copy byte windows.
#
# A window is a byte ring whose memory is mapped twice, back to back: the
# bytes at base[i] and base[i + size] are the same page, so any range of up
# to `size` bytes starting anywhere in the ring is one contiguous span, and
# becomes one memoryview, never two.
#
# All windows of a stack come from an Arena: one memfd (sparse, so unused
# slots cost nothing), one reserved virtual range, and per slot two MAP_FIXED
# views of the same file range. A slot is mapped on first use and recycled
# after that without system calls; when a connection releases its window the
# slot's pages are punched out of the memfd, so a closed or never-used window
# holds no memory. A slot that the application still has a view of is not
# recycled until the last view is released (Arena.exports).

cdef struct Arena:
    int fd
    uint8_t *va                  # reserved: max_slots * 2 * slot_size bytes
    uint32_t slot_size           # power of two, multiple of the page size
    uint32_t max_slots
    uint32_t *free_ids           # recycled slots (already mapped)
    uint32_t nfree
    uint32_t next_fresh          # slots >= next_fresh were never mapped
    uint32_t *exports            # live application views per slot
    uint8_t *pending_release     # released by its connection while still viewed
    uint64_t in_use
    uint64_t map_failures
    uint64_t deferred_releases


cdef struct Window:
    uint8_t *base                # NULL until a slot is attached
    uint32_t size
    uint32_t mask
    uint32_t slot
    uint64_t head                # first byte not yet consumed (stream offset)
    uint64_t tail                # one past the last byte written (stream offset)


cdef int arena_init(Arena *a, uint32_t slot_size, uint32_t max_slots) noexcept nogil:
    """0, or -errno. slot_size must be a power of two >= 4096."""
    cdef size_t span = <size_t>max_slots * 2 * slot_size
    memset(a, 0, sizeof(Arena))
    a.fd = -1
    a.slot_size = slot_size
    a.max_slots = max_slots
    a.fd = sysc.memfd_create(b"netchan-windows", sysc.MFD_CLOEXEC)
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
    if a.free_ids == NULL or a.exports == NULL or a.pending_release == NULL:
        return -sysc.ENOENT
    return 0


cdef void arena_destroy(Arena *a) noexcept nogil:
    if a.va != NULL:
        sysc.munmap(a.va, <size_t>a.max_slots * 2 * a.slot_size)
        a.va = NULL
    if a.fd >= 0:
        sysc.close(a.fd)
        a.fd = -1
    free(a.free_ids)
    free(a.exports)
    free(a.pending_release)
    a.free_ids = NULL
    a.exports = NULL
    a.pending_release = NULL


cdef inline uint8_t *arena_slot_base(Arena *a, uint32_t slot) noexcept nogil:
    return a.va + <size_t>slot * 2 * a.slot_size


cdef uint32_t arena_alloc(Arena *a) noexcept nogil:
    """A slot id, or NC_BUF_NONE when the arena is exhausted or mapping fails."""
    cdef uint32_t slot
    cdef uint8_t *addr
    cdef void *r
    cdef long off
    if a.nfree:
        a.nfree -= 1
        a.in_use += 1
        return a.free_ids[a.nfree]
    if a.next_fresh >= a.max_slots:
        return NC_BUF_NONE
    slot = a.next_fresh
    addr = arena_slot_base(a, slot)
    off = <long>(<size_t>slot * a.slot_size)
    r = sysc.mmap(addr, a.slot_size, sysc.PROT_READ | sysc.PROT_WRITE,
                  sysc.MAP_SHARED | sysc.MAP_FIXED, a.fd, off)
    if r == sysc.MAP_FAILED:
        a.map_failures += 1
        return NC_BUF_NONE
    r = sysc.mmap(addr + a.slot_size, a.slot_size, sysc.PROT_READ | sysc.PROT_WRITE,
                  sysc.MAP_SHARED | sysc.MAP_FIXED, a.fd, off)
    if r == sysc.MAP_FAILED:
        a.map_failures += 1
        return NC_BUF_NONE
    a.next_fresh += 1
    a.in_use += 1
    return slot


cdef void arena__recycle(Arena *a, uint32_t slot) noexcept nogil:
    # Give the pages back: an idle slot holds no memory.
    sysc.fallocate(a.fd, sysc.FALLOC_FL_PUNCH_HOLE | sysc.FALLOC_FL_KEEP_SIZE,
                   <long>(<size_t>slot * a.slot_size), a.slot_size)
    a.pending_release[slot] = 0
    a.free_ids[a.nfree] = slot
    a.nfree += 1
    a.in_use -= 1


cdef void arena_release(Arena *a, uint32_t slot) noexcept nogil:
    """The owner is done with the slot; it is recycled once no view remains."""
    if a.exports[slot]:
        a.pending_release[slot] = 1
        a.deferred_releases += 1
    else:
        arena__recycle(a, slot)


cdef inline void arena_export(Arena *a, uint32_t slot) noexcept nogil:
    a.exports[slot] += 1


cdef void arena_unexport(Arena *a, uint32_t slot) noexcept nogil:
    a.exports[slot] -= 1
    if a.exports[slot] == 0 and a.pending_release[slot]:
        arena__recycle(a, slot)


# ---- windows ---------------------------------------------------------------

cdef inline bint window_attach(Window *w, Arena *a) noexcept nogil:
    """Give w a slot (if it has none). False if the arena is exhausted."""
    cdef uint32_t slot
    if w.base != NULL:
        return True
    slot = arena_alloc(a)
    if slot == NC_BUF_NONE:
        return False
    w.slot = slot
    w.base = arena_slot_base(a, slot)
    w.size = a.slot_size
    w.mask = a.slot_size - 1
    return True


cdef inline void window_detach(Window *w, Arena *a) noexcept nogil:
    if w.base != NULL:
        arena_release(a, w.slot)
        w.base = NULL
        w.slot = NC_BUF_NONE


cdef inline uint32_t window_used(const Window *w) noexcept nogil:
    return <uint32_t>(w.tail - w.head)


cdef inline uint32_t window_space(const Window *w) noexcept nogil:
    return w.size - <uint32_t>(w.tail - w.head)


cdef inline uint8_t *window_at(const Window *w, uint64_t off) noexcept nogil:
    """Start of a contiguous span of up to `size` bytes at stream offset off."""
    return w.base + (off & w.mask)
