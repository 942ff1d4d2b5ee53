cdef uint32_t tx_alloc(StackState *st) noexcept nogil
cdef void tx_flush(StackState *st) noexcept nogil
cdef void tx_enqueue(StackState *st, uint32_t b) noexcept nogil
cdef void tx_flush_refs(StackState *st) noexcept nogil
