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
