cdef enum:
    RS_MAX = 3                  # MAX_RTR_SOLICITATIONS (RFC 4861 10)
    RS_INTERVAL_NS = 4000000000 # RTR_SOLICITATION_INTERVAL: 4 s

cdef void rs_start(StackState *st) noexcept nogil
cdef void ra_input(StackState *st, const Ipv6Hdr *ip, const IcmpHdr *ic,
                   const uint8_t *eth_src) noexcept nogil
cdef void router6_tick(StackState *st) noexcept nogil
cdef uint64_t router6_next_deadline(StackState *st) noexcept nogil
cdef void slaac_address(uint8_t *out, const uint8_t *prefix, const uint8_t *mac) noexcept nogil
