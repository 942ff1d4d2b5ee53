# TCP headers and options (RFC 9293, RFC 7323, RFC 2018): parse and emit.
#
# The wire layer's rule (smoltcp's): a parser checks every length once, up
# front; after it returns WIRE_OK every field of the parsed struct is valid and
# every pointer it holds spans bytes that exist. Nothing here allocates or
# raises. Multi-byte fields in parsed structs are host order; addresses are
# uint32 in host order (198.18.0.1 == 0xC6120001). Parsers return WIRE_OK or a
# WireError; the stack counts each reason under the name in WIRE_ERROR_NAMES.

cdef inline int tcp_parse_options(const uint8_t *p, uint32_t n, TcpOptions *o) noexcept nogil:
    """Options area of n bytes. Known options with a wrong length are ignored
    (as Linux does); an option that runs past the header is malformed."""
    cdef uint32_t i = 0, k
    cdef uint8_t kind, olen
    o.present = 0
    o.sack_count = 0
    while i < n:
        kind = p[i]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            i += 1
            continue
        if i + 1 >= n:
            return ERR_TCP_OPTION
        olen = p[i + 1]
        if olen < 2 or i + olen > n:
            return ERR_TCP_OPTION
        if kind == TCPOPT_MSS and olen == 4:
            o.present |= OPT_MSS
            o.mss = rd16(p + i + 2)
        elif kind == TCPOPT_WSCALE and olen == 3:
            o.present |= OPT_WSCALE
            o.wscale = p[i + 2]
        elif kind == TCPOPT_SACK_PERM and olen == 2:
            o.present |= OPT_SACK_PERM
        elif kind == TCPOPT_TIMESTAMP and olen == 10:
            o.present |= OPT_TIMESTAMP
            o.ts_val = rd32(p + i + 2)
            o.ts_ecr = rd32(p + i + 6)
        elif kind == TCPOPT_SACK and olen >= 10 and (olen - 2) % 8 == 0:
            o.present |= OPT_SACK
            k = 0
            while k < <uint32_t>((olen - 2) // 8) and k < TCP_MAX_SACK:
                o.sack_left[k] = rd32(p + i + 2 + 8 * k)
                o.sack_right[k] = rd32(p + i + 6 + 8 * k)
                k += 1
            o.sack_count = <uint8_t>k
        i += olen
    return WIRE_OK


cdef inline int tcp_parse(uint8_t *p, uint32_t n, const uint8_t *ip_hdr, TcpHdr *h,
                          bint verify_csum) noexcept nogil:
    """n is the IP payload length (the whole segment)."""
    cdef uint32_t hl
    cdef int rc
    if n < TCP_HLEN:
        return ERR_TCP_SHORT
    hl = (p[12] >> 4) * 4
    if hl < TCP_HLEN or hl > n:
        return ERR_TCP_DOFF
    if verify_csum and nc_csum_fold(nc_csum_partial(p, n,
            nc_csum_pseudo_ipv4(ip_hdr + 12, IP_PROTO_TCP, <uint16_t>n))) != 0:
        return ERR_TCP_CSUM
    h.ip_ecn = (ip_hdr[1] & 3) if ip_hdr != NULL else 0
    rc = tcp_parse_options(p + TCP_HLEN, hl - TCP_HLEN, &h.opts)
    if rc != WIRE_OK:
        return rc
    h.sport = rd16(p)
    h.dport = rd16(p + 2)
    h.seq = rd32(p + 4)
    h.ack = rd32(p + 8)
    h.flags = p[13]
    h.window = rd16(p + 14)
    h.urgent = rd16(p + 18)
    h.hdr_len = hl
    h.payload = p + hl
    h.payload_len = n - hl
    h.payload_ref = 0
    h.ref_gen = 0
    return WIRE_OK


cdef inline uint32_t tcp__fixed_options_len(const TcpOptions *o) noexcept nogil:
    cdef uint32_t n = 0
    if o.present & OPT_MSS:
        n += 4
    if o.present & OPT_TIMESTAMP:
        n += 12             # SACK_PERM(2)+TS(10) or NOP NOP TS
    elif o.present & OPT_SACK_PERM:
        n += 4              # NOP NOP SACK_PERM
    if o.present & OPT_WSCALE:
        n += 4              # NOP WS
    return n


cdef inline uint32_t tcp_sack_blocks_fitting(const TcpOptions *o) noexcept nogil:
    """SACK blocks that fit in the 40 option bytes beside the other options
    (3 with timestamps, 4 without)."""
    cdef uint32_t used = tcp__fixed_options_len(o)
    cdef uint32_t fit
    if not (o.present & OPT_SACK) or used + 4 + 8 > TCP_MAX_HLEN - TCP_HLEN:
        return 0
    fit = (TCP_MAX_HLEN - TCP_HLEN - used - 4) // 8
    return o.sack_count if o.sack_count < fit else fit


cdef inline uint32_t tcp_sack_option_len(const TcpOptions *o) noexcept nogil:
    """Bytes the SACK blocks take (NOP NOP, kind, length, 8 a block), 0 for none."""
    cdef uint32_t k = tcp_sack_blocks_fitting(o)
    return 4 + 8 * k if k else 0


cdef inline uint32_t tcp_options_len(const TcpOptions *o) noexcept nogil:
    """Bytes tcp_write_options will write (a multiple of 4, at most 40)."""
    return tcp__fixed_options_len(o) + tcp_sack_option_len(o)


cdef inline uint32_t tcp_write_options(uint8_t *p, const TcpOptions *o) noexcept nogil:
    """Linux's layout, which every peer accepts: MSS, SACK_PERM, TS, NOP, WS,
    then NOP NOP SACK blocks (as many as fit). Returns bytes written (a
    multiple of 4)."""
    cdef uint32_t i = 0, k
    cdef uint32_t nsack = tcp_sack_blocks_fitting(o)
    if o.present & OPT_MSS:
        p[0] = TCPOPT_MSS
        p[1] = 4
        wr16(p + 2, o.mss)
        i = 4
    if o.present & OPT_TIMESTAMP:
        if o.present & OPT_SACK_PERM:
            p[i] = TCPOPT_SACK_PERM
            p[i + 1] = 2
        else:
            p[i] = TCPOPT_NOP
            p[i + 1] = TCPOPT_NOP
        p[i + 2] = TCPOPT_TIMESTAMP
        p[i + 3] = 10
        wr32(p + i + 4, o.ts_val)
        wr32(p + i + 8, o.ts_ecr)
        i += 12
    elif o.present & OPT_SACK_PERM:
        p[i] = TCPOPT_NOP
        p[i + 1] = TCPOPT_NOP
        p[i + 2] = TCPOPT_SACK_PERM
        p[i + 3] = 2
        i += 4
    if o.present & OPT_WSCALE:
        p[i] = TCPOPT_NOP
        p[i + 1] = TCPOPT_WSCALE
        p[i + 2] = 3
        p[i + 3] = o.wscale
        i += 4
    if nsack:
        p[i] = TCPOPT_NOP
        p[i + 1] = TCPOPT_NOP
        p[i + 2] = TCPOPT_SACK
        p[i + 3] = <uint8_t>(2 + 8 * nsack)
        i += 4
        for k in range(nsack):
            wr32(p + i, o.sack_left[k])
            wr32(p + i + 4, o.sack_right[k])
            i += 8
    return i


cdef inline uint32_t tcp_write_header(uint8_t *p, uint16_t sport, uint16_t dport,
                                      uint32_t seq, uint32_t ack, uint8_t flags,
                                      uint16_t window, const TcpOptions *o) noexcept nogil:
    """Header and options; checksum zero (see tcp_fill_checksum). Returns the
    header length."""
    cdef uint32_t ol = tcp_write_options(p + TCP_HLEN, o) if o != NULL else 0
    cdef uint32_t hl = TCP_HLEN + ol
    wr16(p, sport)
    wr16(p + 2, dport)
    wr32(p + 4, seq)
    wr32(p + 8, ack)
    p[12] = <uint8_t>((hl // 4) << 4)
    p[13] = flags
    wr16(p + 14, window)
    p[16] = 0
    p[17] = 0
    p[18] = 0
    p[19] = 0
    return hl


cdef inline void tcp_fill_checksum(uint8_t *p, uint32_t seg_len, const uint8_t *ip_hdr) noexcept nogil:
    """Checksum over header + payload already in place after p."""
    p[16] = 0
    p[17] = 0
    store_csum(p + 16, nc_csum_fold(nc_csum_partial(p, seg_len,
        nc_csum_pseudo_ipv4(ip_hdr + 12, IP_PROTO_TCP, <uint16_t>seg_len))))
