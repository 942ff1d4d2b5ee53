cdef enum:
    ND_TABLE_SIZE = 64          # power of two
    IP6_MAX_ADDRS = 4           # the stack's own IPv6 addresses, link-local included

cdef struct NdEntry:            # ArpEntry's shape with a 16-byte address
    uint8_t ip[16]
    uint8_t state               # ARP_EMPTY / ARP_INCOMPLETE / ARP_REACHABLE
    uint8_t tries
    uint8_t mac[6]
    uint64_t expires            # REACHABLE until
    uint64_t next_request       # INCOMPLETE: when to solicit again
    uint32_t q_head             # frames waiting for the answer (at most ARP_QUEUE_MAX)
    uint32_t q_tail
    uint32_t q_len

cdef struct Ip6State:           # StackState.v6: the stack's IPv6 side
    uint8_t addr[IP6_MAX_ADDRS * 16]
    uint8_t plen[IP6_MAX_ADDRS]
    uint32_t n_addr
    NdEntry nd[ND_TABLE_SIZE]
    uint64_t nd_next_scan
    uint8_t conflict_mac[6]     # the last host seen claiming one of our addresses (DAD)
    int8_t conflict_addr        # which one (-1: none)

cdef const uint8_t *ip6_addr(StackState *st, uint32_t i) noexcept nogil
cdef int ip6_addr_index(StackState *st, const uint8_t *a) noexcept nogil
cdef bint ip6_is_all_nodes(const uint8_t *a) noexcept nogil
cdef int ip6_solicited_index(StackState *st, const uint8_t *group) noexcept nogil
cdef bint ip6_mac_ours(StackState *st, const uint8_t *mac) noexcept nogil
cdef const uint8_t *ip6_source_for(StackState *st, const uint8_t *dst) noexcept nogil
cdef void nd_input(StackState *st, const Ipv6Hdr *ip, const NdpMsg *m,
                   const uint8_t *eth_src) noexcept nogil
cdef void nd_tick(StackState *st) noexcept nogil
cdef uint64_t nd_next_deadline(StackState *st) noexcept nogil
cdef void ip6_send(StackState *st, uint32_t b, const uint8_t *dst) noexcept nogil
cdef void ndp_dad_and_announce(StackState *st, bint announce) noexcept nogil
cdef void ip6_send_cached(StackState *st, uint32_t b, const uint8_t *dst, uint8_t *mac,
                          uint32_t *mac_gen) noexcept nogil
