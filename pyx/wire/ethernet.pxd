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

cdef int eth_parse(uint8_t *p, uint32_t n, EthHdr *h) noexcept nogil

cdef uint32_t eth_write(uint8_t *p, const uint8_t *dst, const uint8_t *src,
                               uint16_t ethertype) noexcept nogil

cdef int arp_parse(const uint8_t *p, uint32_t n, ArpPkt *a) noexcept nogil

cdef uint32_t arp_write(uint8_t *p, uint16_t oper, const uint8_t *sha, uint32_t spa,
                               const uint8_t *tha, uint32_t tpa) noexcept nogil
