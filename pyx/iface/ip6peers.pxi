# Remote IPv6 addresses, interned: TCP keeps one 32-bit remote address per
# connection (Tcb.raddr, the flow table's key, TIME_WAIT records), which an
# IPv4 peer fills with its address. An IPv6 peer's 16 bytes live here
# instead, once per distinct address, and its connections hold 1 + the
# slot's index, a value no IPv4 peer can have (0.0.0.0/8 is never a valid
# source, classify.pxi): the control block does not grow, and the flow
# lookup stays one 32-bit compare.
#
# The table is open-addressed (IP6_PEER_PROBES probes) and sized when the
# stack gets its IPv6 addresses. A slot is held (refs) by each control
# block and TIME_WAIT record naming it; one with no holder is only a cache
# and is reused for another address, never in the poll that looked it up
# (frames waiting in a channel still name it).

from libc.stdlib cimport calloc


cdef int ip6_peers_init(StackState *st, uint32_t entries) noexcept nogil:
    """entries: a power of two <= IP6_PEER_LIMIT - 1. 0, or -ENOMEM."""
    st.peers6 = <Ip6Peer *>calloc(entries, sizeof(Ip6Peer))
    if st.peers6 == NULL:
        return -12
    st.peers6_mask = entries - 1
    return 0


cdef inline bint addr_is_v6(uint32_t raddr) noexcept nogil:
    return raddr - 1 < IP6_PEER_LIMIT - 1


cdef inline uint32_t ip6_peer_hash(StackState *st, const uint8_t *a) noexcept nogil:
    cdef uint32_t w0, w1, w2, w3
    memcpy(&w0, a, 4)
    memcpy(&w1, a + 4, 4)
    memcpy(&w2, a + 8, 4)
    memcpy(&w3, a + 12, 4)
    # keyed: a peer cannot choose addresses that collide in the table
    return <uint32_t>siphash_tuple(st.isn_key0 ^ 0x36, st.isn_key1, w0 ^ w2, w1 ^ w3, 0, 0, 6)


cdef uint32_t ip6_peer_find(StackState *st, const uint8_t *a) noexcept nogil:
    """The raddr of a's slot, or 0 when a is not in the table."""
    cdef uint32_t i, k
    cdef Ip6Peer *p
    if st.peers6 == NULL:
        return 0
    i = ip6_peer_hash(st, a)
    for k in range(IP6_PEER_PROBES):
        p = &st.peers6[(i + k) & st.peers6_mask]
        if not p.used:
            return 0
        if memcmp(p.addr, a, 16) == 0:
            p.poll_seen = <uint32_t>st.ctr[C_POLLS]
            return ((i + k) & st.peers6_mask) + 1
    return 0


cdef uint32_t ip6_peer_intern(StackState *st, const uint8_t *a) noexcept nogil:
    """a's raddr, taking a slot for it if needed; 0 (counted) when its
    probe run is all held or looked up this poll."""
    cdef uint32_t i, k, j, free_at = NC_BUF_NONE
    cdef uint32_t poll = <uint32_t>st.ctr[C_POLLS]
    cdef Ip6Peer *p
    if st.peers6 == NULL:
        return 0
    i = ip6_peer_hash(st, a)
    for k in range(IP6_PEER_PROBES):
        j = (i + k) & st.peers6_mask
        p = &st.peers6[j]
        if p.used and memcmp(p.addr, a, 16) == 0:
            p.poll_seen = poll
            return j + 1
        if free_at == NC_BUF_NONE and (not p.used or (p.refs == 0 and p.poll_seen != poll)):
            free_at = j
        if not p.used:
            break
    if free_at == NC_BUF_NONE:
        st.ctr[C_IP6_PEER_TABLE_FULL] += 1
        return 0
    p = &st.peers6[free_at]
    memcpy(p.addr, a, 16)
    p.used = 1
    p.refs = 0
    p.poll_seen = poll
    return free_at + 1


cdef inline const uint8_t *ip6_peer_addr(StackState *st, uint32_t raddr) noexcept nogil:
    return st.peers6[raddr - 1].addr


cdef inline void ip6_peer_hold(StackState *st, uint32_t raddr) noexcept nogil:
    if addr_is_v6(raddr):
        st.peers6[raddr - 1].refs += 1


cdef inline void ip6_peer_release(StackState *st, uint32_t raddr) noexcept nogil:
    if addr_is_v6(raddr) and st.peers6[raddr - 1].refs:
        st.peers6[raddr - 1].refs -= 1
