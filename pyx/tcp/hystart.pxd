cdef void hystart_init(StackState *st, Tcb *t) noexcept nogil
cdef void hystart_rtt_sample(Tcb *t, uint64_t r) noexcept nogil
cdef uint32_t hystart_slow_start(StackState *st, Tcb *t, uint32_t inc) noexcept nogil
