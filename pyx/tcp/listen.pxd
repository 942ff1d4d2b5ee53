# ---- listeners, UDP, ARP --------------------------------------------------------

cdef struct Listener:
    bint active
    uint32_t gen                # bumped when the listener closes: its children and
                                # handles (Tcb.listener_gen, TcpListener.gen) then mismatch
    bint in_active              # on StackState.listen_active this poll
    uint16_t port
    uint32_t backlog
    uint32_t half_open          # children in SYN_RECEIVED
    nc_ring *chan               # SYNs (bounded: a flood cannot grow it)
    uint32_t *aq                # accept queue: TCB ids, ring of aq_cap
    uint32_t aq_cap
    uint32_t aq_head
    uint32_t aq_len
    uint64_t overflows
    uint64_t cookies_until      # SYN cookies went out lately: check ACKs against them

cdef int32_t listener_open(StackState *st, uint16_t port, uint32_t backlog) noexcept nogil
cdef void listener_close(StackState *st, int32_t lid) noexcept nogil
cdef void listener_half_open_done(StackState *st, Tcb *t) noexcept nogil
cdef bint listener_enqueue(StackState *st, Tcb *t) noexcept nogil
cdef Tcb *listener_pop(StackState *st, Listener *l) noexcept nogil

cdef void tcp_passive_init(StackState *st, Tcb *t, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, uint16_t sport, uint16_t dport, uint32_t irs,
                           uint32_t iss, const TcpOptions *opts) noexcept nogil

cdef void tcp_listen_input(StackState *st, int32_t lid, uint32_t src, uint32_t dst,
                           const uint8_t *src_mac, const TcpHdr *th,
                           bint iss_given=*, uint32_t given_iss=*) noexcept nogil

cdef bint tcp_time_wait_takeover(StackState *st, Tcb *t, const TcpHdr *th, uint32_t src,
                                 uint32_t dst, const uint8_t *src_mac) noexcept nogil
