cdef enum:
    ND_TABLE_SIZE = 64          # power of two
    IP6_MAX_ADDRS = 8           # the stack's own IPv6 addresses, link-local and SLAAC's included
    IP6_MAX_ROUTERS = 4         # default routers learned from advertisements
    IP6_MAX_PREFIXES = 8        # on-link prefixes learned from advertisements

cdef enum:                      # an address's state (RFC 4862 5.4, RFC 4429)
    ADDR_PREFERRED = 0          # DAD done (or off): used and answered for
    ADDR_OPTIMISTIC = 1         # DAD listening, the address used meanwhile (RFC 4429)
    ADDR_TENTATIVE = 2          # DAD listening, the address not used yet
    ADDR_DUPLICATE = 3          # another host has it: never used

cdef enum:
    DAD_OPTIMISTIC = 0
    DAD_WAIT = 1
    DAD_OFF = 2

cdef struct Ip6Router:          # the default router list (RFC 4861 6.3.4)
    uint8_t ip[16]              # its link-local address
    uint64_t expires            # 0: empty slot

cdef struct Ip6Prefix:          # the prefix list (on-link prefixes from advertisements)
    uint8_t prefix[16]
    uint8_t plen
    uint64_t expires            # 0: empty slot

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
    uint8_t astate[IP6_MAX_ADDRS]   # ADDR_*
    uint64_t dad_until[IP6_MAX_ADDRS]   # TENTATIVE / OPTIMISTIC: when DAD ends
    uint32_t n_addr
    uint8_t dad_mode            # DAD_*
    uint64_t dad_ns             # RetransTimer (RFC 4861 10: 1 s)
    Ip6Router routers[IP6_MAX_ROUTERS]
    Ip6Prefix prefixes[IP6_MAX_PREFIXES]
    bint slaac                  # form addresses from advertised prefixes (iface/router6.pxi)
    uint8_t rs_left             # router solicitations still to send
    uint64_t rs_next            # when the next one goes
    uint64_t mld_due            # a report answering a query is due then (0: none)
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
cdef bint ip6_addr_usable(StackState *st, uint32_t i) noexcept nogil
cdef bint ip6_on_link(StackState *st, const uint8_t *a) noexcept nogil
cdef const uint8_t *ip6_next_hop(StackState *st, const uint8_t *dst) noexcept nogil
cdef bint ip6_on_prefix(const uint8_t *a, const uint8_t *b, uint32_t plen) noexcept nogil
cdef void nd_send(StackState *st, uint8_t type, uint8_t flags, const uint8_t *target,
                  const uint8_t *src, const uint8_t *dst, const uint8_t *eth_dst) noexcept nogil
cdef void nd_learn(StackState *st, const uint8_t *a, const uint8_t *mac) noexcept nogil
cdef int ip6_addr_add(StackState *st, const uint8_t *a, uint8_t plen) noexcept nogil
cdef void nd_input(StackState *st, const Ipv6Hdr *ip, const NdpMsg *m,
                   const uint8_t *eth_src) noexcept nogil
cdef void nd_tick(StackState *st) noexcept nogil
cdef uint64_t nd_next_deadline(StackState *st) noexcept nogil
cdef void ip6_send(StackState *st, uint32_t b, const uint8_t *dst) noexcept nogil
cdef void ndp_dad_and_announce(StackState *st, bint announce) noexcept nogil
cdef void ip6_send_cached(StackState *st, uint32_t b, const uint8_t *dst, uint8_t *mac,
                          uint32_t *mac_gen) noexcept nogil
