# The flow table: (laddr, raddr, rport, lport) -> control block id, open
# addressing with backward-shift deletion, hashed with the stack's secret key.
# The hash leaves our address out (a stack has one, or a few: the same
# remote end on two of them only probes one slot further); the match
# compares it, so one remote port may talk to two of our addresses at once.

cdef inline uint32_t flow_hash(StackState *st, uint32_t raddr, uint16_t rport,
                               uint16_t lport) noexcept nogil:
    cdef uint64_t x = (<uint64_t>raddr << 32) | (<uint64_t>rport << 16) | lport
    x ^= st.isn_key1
    x ^= x >> 33
    x *= 0xff51afd7ed558ccdULL
    x ^= x >> 33
    x *= 0xc4ceb9fe1a85ec53ULL
    x ^= x >> 33
    return <uint32_t>x | 1


cdef inline uint32_t flow_lookup(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t rport,
                                 uint16_t lport) noexcept nogil:
    """laddr and raddr as TCP keeps them (an IPv4 address, or for IPv6 our
    address's index and the peer's interned slot: tcp/ip6.pxi)."""
    cdef uint32_t h = flow_hash(st, raddr, rport, lport)
    cdef uint32_t i = h & st.flow_mask
    cdef FlowSlot *s
    cdef Tcb *t
    while True:
        s = &st.flows[i]
        if s.hash == 0:
            return NC_BUF_NONE
        if s.hash == h:
            t = &st.tcbs[s.tcb]
            if t.raddr == raddr and t.rport == rport and t.lport == lport and t.laddr == laddr:
                return s.tcb
        i = (i + 1) & st.flow_mask


cdef void flow_insert(StackState *st, Tcb *t) noexcept nogil:
    """A new connection takes its 4-tuple (and ends a TIME_WAIT record of
    an earlier incarnation there: tw_claim)."""
    cdef uint32_t h = flow_hash(st, t.raddr, t.rport, t.lport)
    cdef uint32_t i = h & st.flow_mask
    while st.flows[i].hash != 0:
        i = (i + 1) & st.flow_mask
    st.flows[i].hash = h
    st.flows[i].tcb = t.id
    tw_claim(st, t.laddr, t.raddr, t.rport, t.lport)


cdef void flow_remove(StackState *st, Tcb *t) noexcept nogil:
    cdef uint32_t h = flow_hash(st, t.raddr, t.rport, t.lport)
    cdef uint32_t i = h & st.flow_mask
    cdef uint32_t j, ideal
    while True:
        if st.flows[i].hash == 0:
            return                      # not in the table
        if st.flows[i].tcb == t.id:
            break
        i = (i + 1) & st.flow_mask
    # backward shift: pull later members of the probe chain into the hole
    j = i
    while True:
        j = (j + 1) & st.flow_mask
        if st.flows[j].hash == 0:
            break
        ideal = st.flows[j].hash & st.flow_mask
        # move j into hole i unless j's ideal slot lies cyclically in (i, j]
        if ((j - ideal) & st.flow_mask) >= ((j - i) & st.flow_mask):
            st.flows[i] = st.flows[j]
            i = j
    st.flows[i].hash = 0
    st.flows[i].tcb = NC_BUF_NONE
