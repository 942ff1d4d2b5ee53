cdef SegRing *seg_ring(const StackState *st, const Tcb *t) noexcept nogil
cdef uint32_t seg_now_us(const StackState *st) noexcept nogil
cdef uint32_t seg_age_us(uint32_t now, uint32_t stamp) noexcept nogil
cdef void seg_trim(SegRing *g, uint32_t una) noexcept nogil
cdef uint32_t seg_split(SegRing *g, uint32_t una, uint32_t at) noexcept nogil
cdef void seg_make_room(SegRing *g, uint32_t need) noexcept nogil
cdef void seg_sent(StackState *st, Tcb *t, uint32_t seq, uint32_t n, bint rxt) noexcept nogil
cdef bint seg_is_lost(const StackState *st, const Tcb *t, uint32_t seq) noexcept nogil
cdef bint seg_any_lost(const StackState *st, const Tcb *t) noexcept nogil
cdef uint32_t seg_lost_bytes(const StackState *st, const Tcb *t, uint32_t a, uint32_t b) noexcept nogil
cdef bint seg_next_lost(const StackState *st, const Tcb *t, uint32_t *seq, uint32_t *length) noexcept nogil
cdef void seg_forget_sacks(StackState *st, Tcb *t) noexcept nogil
