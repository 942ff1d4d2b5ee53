cdef bint prr_on(const Tcb *t) noexcept nogil
cdef void prr_start(StackState *st, Tcb *t) noexcept nogil
cdef void prr_on_ack(StackState *st, Tcb *t, uint32_t delivered) noexcept nogil
cdef void prr_sent(Tcb *t, uint32_t n) noexcept nogil
cdef bint rescue_range(const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil
