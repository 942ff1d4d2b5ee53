cdef enum:
    MLD2_REPORT = 143           # ICMPv6 types (RFC 3810 5)
    MLD_QUERY = 130
    MLD2_MODE_IS_EXCLUDE = 2    # record types: the current state (answering a query)
    MLD2_CHANGE_TO_EXCLUDE = 4  # a join (unsolicited)

cdef void mld_report(StackState *st, uint8_t record_type, const uint8_t *only) noexcept nogil
cdef void mld_query_input(StackState *st, const Ipv6Hdr *ip, const IcmpHdr *ic) noexcept nogil
