cdef void tcp_abort(StackState *st, Tcb *t) noexcept nogil
cdef bint tcp_queue_fin(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_stack_closing(StackState *st, Tcb *t) noexcept nogil
cdef bint tcp_fin_unacked(const Tcb *t) noexcept nogil
