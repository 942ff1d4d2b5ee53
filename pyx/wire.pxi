# Wire formats: parse and emit Ethernet II, ARP, IPv4, ICMP, UDP and TCP.
#
# smoltcp's rule: a parser checks every length once, up front; after it
# returns WIRE_OK every field of the parsed struct is valid and every pointer
# it holds spans bytes that exist. Nothing here allocates or raises.
# Multi-byte fields in parsed structs are host order; addresses are uint32
# in host order (198.18.0.1 == 0xC6120001).
#
# Parsers return WIRE_OK or a WireError; the stack counts each reason under
# the name in WIRE_ERROR_NAMES.

cdef enum:
    ETH_HLEN = 14
    ETH_ALEN = 6
    ETH_P_IPV4 = 0x0800
    ETH_P_ARP = 0x0806
    ETH_P_IPV6 = 0x86DD
    ARP_LEN = 28
    ARP_OP_REQUEST = 1
    ARP_OP_REPLY = 2
    IPV4_HLEN = 20
    IPV4_MAX_LEN = 65535
    IP_PROTO_ICMP = 1
    IP_PROTO_TCP = 6
    IP_PROTO_UDP = 17
    IP_DF = 0x4000
    IP_MF = 0x2000
    IP_OFFMASK = 0x1fff
    ICMP_HLEN = 8
    ICMP_ECHO_REPLY = 0
    ICMP_DEST_UNREACH = 3
    ICMP_ECHO_REQUEST = 8
    ICMP_TIME_EXCEEDED = 11
    UDP_HLEN = 8
    TCP_HLEN = 20
    TCP_MAX_HLEN = 60
    TCP_FIN = 0x01
    TCP_SYN = 0x02
    TCP_RST = 0x04
    TCP_PSH = 0x08
    TCP_ACK = 0x10
    TCP_URG = 0x20
    TCP_ECE = 0x40
    TCP_CWR = 0x80
    # TCP option kinds
    TCPOPT_EOL = 0
    TCPOPT_NOP = 1
    TCPOPT_MSS = 2
    TCPOPT_WSCALE = 3
    TCPOPT_SACK_PERM = 4
    TCPOPT_SACK = 5
    TCPOPT_TIMESTAMP = 8
    # bits of TcpOptions.present
    OPT_MSS = 0x01
    OPT_WSCALE = 0x02
    OPT_SACK_PERM = 0x04
    OPT_TIMESTAMP = 0x08
    OPT_SACK = 0x10
    TCP_MAX_SACK = 4

cdef enum:  # WireError
    WIRE_OK = 0
    ERR_ETH_SHORT
    ERR_ETH_TYPE            # an EtherType the stack does not speak (IPv6 for now)
    ERR_ARP_SHORT
    ERR_ARP_FORMAT          # not Ethernet/IPv4 ARP, or an unknown operation
    ERR_IP_SHORT
    ERR_IP_VERSION
    ERR_IP_HLEN
    ERR_IP_TOTLEN
    ERR_IP_CSUM
    ERR_IP_FRAGMENT         # recognised fragment; handled (or not) by the caller
    ERR_ICMP_SHORT
    ERR_ICMP_CSUM
    ERR_UDP_SHORT
    ERR_UDP_LEN
    ERR_UDP_CSUM
    ERR_TCP_SHORT
    ERR_TCP_DOFF
    ERR_TCP_CSUM
    ERR_TCP_OPTION
    WIRE_ERROR_COUNT

# Counter names, indexed by WireError (index 0 unused).
WIRE_ERROR_NAMES = (
    None,
    "rx_eth_short", "rx_eth_type",
    "rx_arp_short", "rx_arp_format",
    "rx_ip_short", "rx_ip_version", "rx_ip_hlen", "rx_ip_totlen", "rx_ip_csum",
    "rx_ip_fragment",
    "rx_icmp_short", "rx_icmp_csum",
    "rx_udp_short", "rx_udp_len", "rx_udp_csum",
    "rx_tcp_short", "rx_tcp_doff", "rx_tcp_csum", "rx_tcp_option",
)


cdef struct EthHdr:
    const uint8_t *dst
    const uint8_t *src
    uint16_t ethertype
    uint8_t *payload
    uint32_t payload_len

cdef struct ArpPkt:
    uint16_t oper
    const uint8_t *sha
    uint32_t spa
    const uint8_t *tha
    uint32_t tpa

cdef struct Ipv4Hdr:
    uint8_t *hdr
    uint32_t hdr_len
    uint32_t total_len
    uint8_t tos
    uint8_t ttl
    uint8_t proto
    uint16_t ident
    uint16_t frag_off        # in bytes
    bint more_frags
    bint dont_frag
    uint32_t src
    uint32_t dst
    uint8_t *payload
    uint32_t payload_len

cdef struct IcmpHdr:
    uint8_t type
    uint8_t code
    uint16_t ident           # echo only
    uint16_t seq             # echo only
    uint32_t rest            # bytes 4..7 as one word (e.g. next-hop MTU in its low 16 bits)
    uint8_t *body            # after the 8-byte header
    uint32_t body_len

cdef struct UdpHdr:
    uint16_t sport
    uint16_t dport
    uint16_t length
    uint8_t *payload
    uint32_t payload_len

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


# ---- byte order -------------------------------------------------------------

cdef inline uint16_t rd16(const uint8_t *p) noexcept nogil:
    return <uint16_t>((<uint16_t>p[0] << 8) | p[1])

cdef inline uint32_t rd32(const uint8_t *p) noexcept nogil:
    return ((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) |
            (<uint32_t>p[2] << 8) | <uint32_t>p[3])

cdef inline void wr16(uint8_t *p, uint16_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 8)
    p[1] = <uint8_t>v

cdef inline void wr32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v

cdef inline void store_csum(uint8_t *field, uint16_t c) noexcept nogil:
    # nc_csum_fold returns the value in memory order (RFC 1071 2(B)).
    memcpy(field, &c, 2)


# ---- Ethernet ---------------------------------------------------------------

cdef inline int eth_parse(uint8_t *p, uint32_t n, EthHdr *h) noexcept nogil:
    if n < ETH_HLEN:
        return ERR_ETH_SHORT
    h.dst = p
    h.src = p + 6
    h.ethertype = rd16(p + 12)
    h.payload = p + ETH_HLEN
    h.payload_len = n - ETH_HLEN
    return WIRE_OK

cdef inline uint32_t eth_write(uint8_t *p, const uint8_t *dst, const uint8_t *src,
                               uint16_t ethertype) noexcept nogil:
    memcpy(p, dst, 6)
    memcpy(p + 6, src, 6)
    wr16(p + 12, ethertype)
    return ETH_HLEN


# ---- ARP (Ethernet / IPv4 only) ---------------------------------------------

cdef inline int arp_parse(const uint8_t *p, uint32_t n, ArpPkt *a) noexcept nogil:
    if n < ARP_LEN:
        return ERR_ARP_SHORT
    # htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4
    if rd16(p) != 1 or rd16(p + 2) != ETH_P_IPV4 or p[4] != 6 or p[5] != 4:
        return ERR_ARP_FORMAT
    a.oper = rd16(p + 6)
    if a.oper != ARP_OP_REQUEST and a.oper != ARP_OP_REPLY:
        return ERR_ARP_FORMAT
    a.sha = p + 8
    a.spa = rd32(p + 14)
    a.tha = p + 18
    a.tpa = rd32(p + 24)
    return WIRE_OK

cdef inline uint32_t arp_write(uint8_t *p, uint16_t oper, const uint8_t *sha, uint32_t spa,
                               const uint8_t *tha, uint32_t tpa) noexcept nogil:
    wr16(p, 1)
    wr16(p + 2, ETH_P_IPV4)
    p[4] = 6
    p[5] = 4
    wr16(p + 6, oper)
    memcpy(p + 8, sha, 6)
    wr32(p + 14, spa)
    memcpy(p + 18, tha, 6)
    wr32(p + 24, tpa)
    return ARP_LEN


# ---- IPv4 -------------------------------------------------------------------

cdef inline int ipv4_parse(uint8_t *p, uint32_t n, Ipv4Hdr *h, bint verify_csum) noexcept nogil:
    """Trailing bytes beyond total_len (Ethernet padding) are ignored."""
    cdef uint32_t hl, tl
    cdef uint16_t ff
    if n < IPV4_HLEN:
        return ERR_IP_SHORT
    if (p[0] >> 4) != 4:
        return ERR_IP_VERSION
    hl = (p[0] & 0x0f) * 4
    if hl < IPV4_HLEN or hl > n:
        return ERR_IP_HLEN
    tl = rd16(p + 2)
    if tl < hl or tl > n:
        return ERR_IP_TOTLEN
    if verify_csum and nc_csum_fold(nc_csum_partial(p, hl, 0)) != 0:
        return ERR_IP_CSUM
    h.hdr = p
    h.hdr_len = hl
    h.total_len = tl
    h.tos = p[1]
    h.ident = rd16(p + 4)
    ff = rd16(p + 6)
    h.dont_frag = (ff & IP_DF) != 0
    h.more_frags = (ff & IP_MF) != 0
    h.frag_off = <uint16_t>((ff & IP_OFFMASK) * 8)
    h.ttl = p[8]
    h.proto = p[9]
    h.src = rd32(p + 12)
    h.dst = rd32(p + 16)
    h.payload = p + hl
    h.payload_len = tl - hl
    if h.more_frags or h.frag_off:
        return ERR_IP_FRAGMENT
    return WIRE_OK

cdef inline uint32_t ipv4_write(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
                                uint8_t ttl, uint16_t ident, uint32_t payload_len,
                                bint dont_frag) noexcept nogil:
    """Write a 20-byte header with its checksum; returns 20."""
    p[0] = 0x45
    p[1] = 0
    wr16(p + 2, <uint16_t>(IPV4_HLEN + payload_len))
    wr16(p + 4, ident)
    wr16(p + 6, IP_DF if dont_frag else 0)
    p[8] = ttl
    p[9] = proto
    p[10] = 0
    p[11] = 0
    wr32(p + 12, src)
    wr32(p + 16, dst)
    store_csum(p + 10, nc_csum_fold(nc_csum_partial(p, IPV4_HLEN, 0)))
    return IPV4_HLEN


# ---- ICMP -------------------------------------------------------------------

cdef inline int icmp_parse(uint8_t *p, uint32_t n, IcmpHdr *h, bint verify_csum) noexcept nogil:
    if n < ICMP_HLEN:
        return ERR_ICMP_SHORT
    if verify_csum and nc_csum_fold(nc_csum_partial(p, n, 0)) != 0:
        return ERR_ICMP_CSUM
    h.type = p[0]
    h.code = p[1]
    h.ident = rd16(p + 4)
    h.seq = rd16(p + 6)
    h.rest = rd32(p + 4)
    h.body = p + ICMP_HLEN
    h.body_len = n - ICMP_HLEN
    return WIRE_OK

cdef inline uint32_t icmp_write_header(uint8_t *p, uint8_t type, uint8_t code,
                                       uint32_t rest) noexcept nogil:
    p[0] = type
    p[1] = code
    p[2] = 0
    p[3] = 0
    wr32(p + 4, rest)
    return ICMP_HLEN

cdef inline void icmp_fill_checksum(uint8_t *p, uint32_t n) noexcept nogil:
    p[2] = 0
    p[3] = 0
    store_csum(p + 2, nc_csum_fold(nc_csum_partial(p, n, 0)))


# ---- UDP --------------------------------------------------------------------

cdef inline int udp_parse(uint8_t *p, uint32_t n, const uint8_t *ip_hdr, UdpHdr *h,
                          bint verify_csum) noexcept nogil:
    """n is the IP payload length; ip_hdr points at the IPv4 header (for the
    pseudo header: bytes 12..19 are source and destination)."""
    cdef uint16_t ulen
    if n < UDP_HLEN:
        return ERR_UDP_SHORT
    ulen = rd16(p + 4)
    if ulen < UDP_HLEN or ulen > n:
        return ERR_UDP_LEN
    # A zero checksum means the sender did not compute one (RFC 768).
    if verify_csum and (p[6] | p[7]) != 0:
        if nc_csum_fold(nc_csum_partial(p, ulen,
                nc_csum_pseudo_ipv4(ip_hdr + 12, IP_PROTO_UDP, ulen))) != 0:
            return ERR_UDP_CSUM
    h.sport = rd16(p)
    h.dport = rd16(p + 2)
    h.length = ulen
    h.payload = p + UDP_HLEN
    h.payload_len = ulen - UDP_HLEN
    return WIRE_OK

cdef inline uint32_t udp_write(uint8_t *p, uint16_t sport, uint16_t dport,
                               uint32_t payload_len, const uint8_t *ip_hdr) noexcept nogil:
    """Write the header and checksum; the payload must already follow it and
    ip_hdr must already hold source and destination."""
    cdef uint16_t ulen = <uint16_t>(UDP_HLEN + payload_len)
    cdef uint16_t c
    wr16(p, sport)
    wr16(p + 2, dport)
    wr16(p + 4, ulen)
    p[6] = 0
    p[7] = 0
    c = nc_csum_fold(nc_csum_partial(p, ulen, nc_csum_pseudo_ipv4(ip_hdr + 12, IP_PROTO_UDP, ulen)))
    if c == 0:
        c = 0xffff      # RFC 768: a computed zero is sent as all ones
    store_csum(p + 6, c)
    return UDP_HLEN


# ---- TCP --------------------------------------------------------------------

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

cdef inline uint32_t tcp_options_len(const TcpOptions *o) noexcept nogil:
    """Bytes tcp_write_options will write (a multiple of 4, at most 40)."""
    cdef uint32_t k = tcp_sack_blocks_fitting(o)
    return tcp__fixed_options_len(o) + (4 + 8 * k if k else 0)

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
