cdef enum:
    IP6_PEER_LIMIT = 0x01000000     # a raddr below this (and not 0) names an IPv6 peer slot
    IP6_PEER_PROBES = 16

cdef struct Ip6Peer:            # one remote IPv6 address that connections share
    uint8_t addr[16]
    uint32_t refs               # control blocks and TIME_WAIT records naming it
    uint32_t poll_seen          # the poll that last looked it up (not reused in that poll)
    uint8_t used                # 0: never used (ends a probe)

cdef int ip6_peers_init(StackState *st, uint32_t entries) noexcept nogil
cdef bint addr_is_v6(uint32_t raddr) noexcept nogil
cdef uint32_t ip6_peer_find(StackState *st, const uint8_t *a) noexcept nogil
cdef uint32_t ip6_peer_intern(StackState *st, const uint8_t *a) noexcept nogil
cdef const uint8_t *ip6_peer_addr(StackState *st, uint32_t raddr) noexcept nogil
cdef void ip6_peer_hold(StackState *st, uint32_t raddr) noexcept nogil
cdef void ip6_peer_release(StackState *st, uint32_t raddr) noexcept nogil
