cdef struct FlowSlot:
    uint32_t hash               # 0 = empty (real hashes are forced odd)
    uint32_t tcb

cdef uint32_t flow_hash(StackState *st, uint32_t raddr, uint16_t rport,
                        uint16_t lport) noexcept nogil
cdef uint32_t flow_lookup(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t rport,
                                 uint16_t lport) noexcept nogil

cdef void flow_insert(StackState *st, Tcb *t) noexcept nogil
cdef void flow_remove(StackState *st, Tcb *t) noexcept nogil
