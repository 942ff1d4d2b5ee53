cdef enum:
    ARP_TABLE_SIZE = 256        # power of two
    ARP_QUEUE_MAX = 64          # frames held per unresolved address (a fragmented 64 KiB datagram fits)

cdef enum:
    IP4_MAX_ADDRS = 4           # the stack's own IPv4 addresses

cdef struct Ip4State:           # StackState.v4: our IPv4 addresses and the default gateway
    uint32_t addr[IP4_MAX_ADDRS]
    uint32_t mask[IP4_MAX_ADDRS]
    uint32_t n_addr             # 0: an IPv6-only stack
    uint32_t gateway            # 0: none (off-link destinations are unreachable)
    int8_t conflict_addr        # which address a conflict was about (-1: none)

cdef enum:
    ARP_EMPTY = 0
    ARP_INCOMPLETE = 1
    ARP_REACHABLE = 2

cdef struct ArpEntry:
    uint32_t ip                 # 0 = empty
    uint8_t state               # ARP_EMPTY / ARP_INCOMPLETE / ARP_REACHABLE
    uint8_t tries
    uint8_t mac[6]
    uint64_t expires            # REACHABLE until
    uint64_t next_request       # INCOMPLETE: when to ask again
    uint32_t q_head             # frames waiting for the answer
    uint32_t q_tail
    uint32_t q_len

cdef ArpEntry *arp_slot_for(StackState *st, uint32_t ip) noexcept nogil
cdef void arp_resolved(StackState *st, ArpEntry *e, const uint8_t *mac) noexcept nogil
cdef void arp_input(StackState *st, const ArpPkt *a) noexcept nogil
cdef void arp_tick(StackState *st) noexcept nogil
cdef bint arp_lookup(StackState *st, uint32_t ip, uint8_t *mac) noexcept nogil
cdef void ip_send(StackState *st, uint32_t b, uint32_t dst) noexcept nogil

cdef void ip_send_cached(StackState *st, uint32_t b, uint32_t dst, uint8_t *mac,
                         uint32_t *mac_gen) noexcept nogil

cdef void arp_probe_and_announce(StackState *st, bint announce) noexcept nogil

cdef int ip4_addr_index(StackState *st, uint32_t a) noexcept nogil
cdef bint ip4_on_link(StackState *st, uint32_t a) noexcept nogil
cdef uint32_t ip4_source_for(StackState *st, uint32_t dst) noexcept nogil
cdef uint32_t ip4_next_hop(StackState *st, uint32_t dst) noexcept nogil
