cdef enum:
    RECOVERY_RFC6675 = 0
    RECOVERY_RACK = 1

cdef bint rack_on(const Tcb *t) noexcept nogil
cdef uint32_t rack_sacked_bytes(const Tcb *t) noexcept nogil
cdef void rack_init(StackState *st, Tcb *t) noexcept nogil
cdef void rack_rtt_sample(StackState *st, Tcb *t, uint64_t r) noexcept nogil
cdef void rack_note_dsack(StackState *st, Tcb *t, uint32_t left, uint32_t right) noexcept nogil
cdef void rack_update(StackState *st, Tcb *t, uint32_t ack) noexcept nogil
cdef void rack_detect(StackState *st, Tcb *t) noexcept nogil
cdef void rack_after_ack(StackState *st, Tcb *t, const TcpHdr *th, uint32_t old_una) noexcept nogil
cdef void rack_note_retransmit(StackState *st, Tcb *t, uint32_t seq, uint32_t n) noexcept nogil
cdef void rack_recovery_ended(Tcb *t) noexcept nogil
cdef void tcp_arm_loss_timer(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_loss_timer_fired(StackState *st, Tcb *t) noexcept nogil
