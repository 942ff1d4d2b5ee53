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
#
# A window is attached lazily: it has its size (and stream offsets) from the
# start but a slot only while it holds bytes. An unattached window (base ==
# NULL) is an empty one: head == tail, all `size` bytes free. It takes a slot
# when the first byte must be stored, and gives it back as soon as it is
# empty again with no view of it alive (window_release_if_empty); the slot
# keeps its pages for a while in the arena (see arena_tick), so draining and
# refilling costs no system call.


cdef inline void window_init(Window *w, const Arena *a) noexcept nogil:
    """An empty, unattached window of the arena's slot size."""
    w.base = NULL
    w.slot = NC_BUF_NONE
    w.hold = 0
    w.foreign = 0
    w.size = a.slot_size
    w.mask = a.slot_size - 1
    w.head = 0
    w.tail = 0


cdef inline bint window_attach(Window *w, Arena *a) noexcept nogil:
    """Give w a slot (if it has none). False if the arena is exhausted."""
    cdef uint32_t slot
    if w.base != NULL:
        return True
    slot = arena_alloc(a)
    if slot == NC_BUF_NONE:
        return False
    w.slot = slot
    w.foreign = 0
    w.base = arena_slot_base(a, slot)
    w.size = a.slot_size
    w.mask = a.slot_size - 1
    return True


cdef inline void window_detach(Window *w, Arena *a) noexcept nogil:
    """Give the slot back (the stream offsets stay)."""
    if w.base != NULL:
        arena_release(a, w.slot)
        w.base = NULL
        w.slot = NC_BUF_NONE
    w.hold = 0


cdef inline bint window_release_if_empty(Window *w, Arena *a) noexcept nogil:
    """Detach w if it holds no byte, no view of it lives, no send view
    awaits its commit and the shm peer does not read it in place. True if
    it is (now) unattached. No system call."""
    if w.base == NULL:
        return True
    if w.head != w.tail or w.hold or a.exports[w.slot] or arena_peer_holds(a, w.slot):
        return False
    arena_release(a, w.slot)
    w.base = NULL
    w.slot = NC_BUF_NONE
    return True


cdef inline uint32_t window_used(const Window *w) noexcept nogil:
    return <uint32_t>(w.tail - w.head)


cdef inline uint32_t window_space(const Window *w) noexcept nogil:
    return w.size - <uint32_t>(w.tail - w.head)


cdef inline uint8_t *window_at(const Window *w, uint64_t off) noexcept nogil:
    """Start of a contiguous span of up to `size` bytes at stream offset off."""
    return w.base + (off & w.mask)

