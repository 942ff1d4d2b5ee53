cdef struct Window:
    uint8_t *base                # NULL until a slot is attached
    uint32_t size
    uint32_t mask
    uint32_t slot
    uint8_t hold                 # a send view was handed out and not yet committed: keep the slot
    uint8_t foreign              # 0: a slot of our arena; k: of the peer's, StackState.peer_wins[k - 1]
    uint64_t head                # first byte not yet consumed (stream offset)
    uint64_t tail                # one past the last byte written (stream offset)

cdef void window_init(Window *w, const Arena *a) noexcept nogil
cdef bint window_attach(Window *w, Arena *a) noexcept nogil
cdef bint window_release_if_empty(Window *w, Arena *a) noexcept nogil
cdef void window_detach(Window *w, Arena *a) noexcept nogil
cdef uint32_t window_space(const Window *w) noexcept nogil
cdef uint8_t *window_at(const Window *w, uint64_t off) noexcept nogil
