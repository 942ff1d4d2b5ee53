# ---- TIME_WAIT records -------------------------------------------------------------

cdef enum:
    TW_TS = 0x01                # timestamps were in use on the connection

cdef struct TwRecord:           # 56 bytes: what TIME_WAIT needs of a connection
    uint32_t hash               # flow hash of (raddr, rport, lport); 0 = free
    uint32_t raddr
    uint16_t rport
    uint16_t lport
    uint32_t snd_nxt            # SND.NXT after our FIN
    uint32_t rcv_nxt            # RCV.NXT after the peer's FIN
    uint32_t rcv_wnd            # the receive window last offered (bytes)
    uint32_t ts_recent          # TS.Recent: the peer's last TSval (PAWS, RFC 6191)
    uint32_t ts_offset          # our TSval = ms clock + ts_offset
    uint8_t rcv_wscale
    uint8_t flags               # TW_*
    uint16_t laddr6             # the index of our address (IPv6: tcp/ip6.pxi; IPv4: in st.v4)
    uint32_t trace_id           # the control block it came from (trace only)
    uint32_t prev               # age list, oldest (earliest expiry) first
    uint32_t next               # (also the free list)
    uint64_t expires            # ns: 2 MSL after it began or after the last FIN

cdef struct TwSlot:
    uint32_t hash               # 0 = empty
    uint32_t id

cdef int tw_init(StackState *st, uint32_t max_records) noexcept nogil
cdef void tw_destroy(StackState *st) noexcept nogil
cdef uint32_t tw_lookup(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t rport,
                        uint16_t lport) noexcept nogil
cdef void tw_claim(StackState *st, uint32_t laddr, uint32_t raddr, uint16_t rport,
                   uint16_t lport) noexcept nogil
cdef void tcp_time_wait_record(StackState *st, Tcb *t) noexcept nogil
cdef void tcp_time_wait_input(StackState *st, uint32_t id, uint32_t src, uint32_t dst,
                              const uint8_t *src_mac, const TcpHdr *th) noexcept nogil
cdef bint tcp_time_wait_reuse_ok(const StackState *st, bint old_ts, uint32_t ts_recent,
                                 uint32_t rcv_nxt, const TcpHdr *th) noexcept nogil
cdef void tw_expire(StackState *st, uint64_t now) noexcept nogil
cdef uint64_t tw_next_deadline(const StackState *st) noexcept nogil
