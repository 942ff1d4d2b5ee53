cdef struct TcpOptions:
    uint32_t present         # OPT_* bits
    uint16_t mss
    uint8_t wscale
    uint8_t sack_count
    uint32_t ts_val
    uint32_t ts_ecr
    uint32_t sack_left[4]
    uint32_t sack_right[4]

cdef struct TcpHdr:
    uint16_t sport
    uint16_t dport
    uint32_t seq
    uint32_t ack
    uint8_t flags
    uint16_t window
    uint16_t urgent
    uint32_t hdr_len
    TcpOptions opts
    uint8_t *payload
    uint32_t payload_len
    uint8_t ip_ecn              # the IP header's ECN field (RFC 3168), 0 when not known
    uint8_t payload_ref         # payload is the shm peer's send window mapped here (mem/peer_windows.pxi)
    uint16_t ref_gen            # ... under this generation of its slot

cdef int tcp_parse(uint8_t *p, uint32_t n, const uint8_t *ip_hdr, TcpHdr *h,
                          bint verify_csum) noexcept nogil

cdef uint32_t tcp_options_len(const TcpOptions *o) noexcept nogil
cdef uint32_t tcp_write_options(uint8_t *p, const TcpOptions *o) noexcept nogil

cdef uint32_t tcp_write_header(uint8_t *p, uint16_t sport, uint16_t dport,
                                      uint32_t seq, uint32_t ack, uint8_t flags,
                                      uint16_t window, const TcpOptions *o) noexcept nogil

cdef void tcp_fill_checksum(uint8_t *p, uint32_t seg_len, const uint8_t *ip_hdr) noexcept nogil
