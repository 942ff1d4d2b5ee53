# Window arenas: one sparse memfd and one reserved virtual range per
# stack and direction; each slot is a window's ring, mapped twice back to back
# on first use, recycled without system calls, its pages punched out when its
# connection lets it go, and held while a view of it is exported.

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
