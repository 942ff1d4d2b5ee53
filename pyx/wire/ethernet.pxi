# Ethernet II and ARP (RFC 826): parse and emit.

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
