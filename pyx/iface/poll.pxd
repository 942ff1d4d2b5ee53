cdef void stack_output(StackState *st) noexcept nogil
cdef void stack_copy_port_stats(StackState *st) noexcept nogil
cdef uint32_t stack_poll(StackState *st, uint64_t now) noexcept nogil
cdef uint32_t stack_poll_and_sweep(StackState *st, uint64_t now) noexcept nogil
cdef uint64_t stack_next_deadline(StackState *st) noexcept nogil
cdef uint64_t stack_port_peer_lost(StackState *st) noexcept nogil
