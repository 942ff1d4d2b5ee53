cdef enum:
    DUPTHRESH = 3

cdef uint32_t range_merge(const uint64_t *ls, const uint64_t *rs, uint32_t n, uint64_t l, uint64_t r,
                          uint64_t *out_l, uint64_t *out_r) noexcept nogil

cdef void tcp_sack_fill(const Tcb *t, TcpOptions *o) noexcept nogil
cdef uint32_t tcp_data_room(const Tcb *t) noexcept nogil
cdef void tcp_note_ooo_block(Tcb *t, uint64_t start, uint64_t end) noexcept nogil
cdef void tcp_note_dsack(Tcb *t, uint32_t left, uint32_t right) noexcept nogil
cdef void sack_trim(Tcb *t) noexcept nogil
cdef uint32_t sack_update(StackState *st, Tcb *t, const TcpHdr *th) noexcept nogil
cdef bint sack_is_lost(const StackState *st, const Tcb *t, uint32_t seq) noexcept nogil
cdef uint32_t sack_pipe(const StackState *st, const Tcb *t) noexcept nogil
cdef bint sack_next_hole(const StackState *st, const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil
cdef bint sack_next_rule3(const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil
