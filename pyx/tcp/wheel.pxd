cdef enum:
    WHEEL_SLOTS = 4096          # 4.096 s per rotation at 1 ms ticks

cdef uint64_t min_nonzero(uint64_t a, uint64_t b) noexcept nogil
cdef void timer_rearm(StackState *st, Tcb *t) noexcept nogil
cdef void timer_cancel_all(StackState *st, Tcb *t) noexcept nogil
cdef uint32_t timers_run(StackState *st, uint64_t now) noexcept nogil
cdef uint64_t timers_next_deadline(StackState *st) noexcept nogil
