cdef int stack_windows_share(StackState *st, WindowBoard *me, WindowBoard *peer) noexcept nogil
cdef void stack_windows_check(StackState *st) noexcept nogil
cdef void stack_windows_peer_lost(StackState *st) noexcept nogil
cdef void stack_windows_unshare(StackState *st) noexcept nogil
cdef void stack_windows_free(StackState *st) noexcept nogil
