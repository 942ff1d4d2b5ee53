# Keyed hashing: SipHash-2-4 over a connection's 4-tuple, for ISNs and
# ephemeral ports (RFC 6528, RFC 6056) and SYN cookies.

cdef inline uint64_t rotl64(uint64_t x, int b) noexcept nogil:
    return (x << b) | (x >> (64 - b))


cdef inline void sipround(uint64_t *v) noexcept nogil:
    v[0] += v[1]; v[1] = rotl64(v[1], 13); v[1] ^= v[0]; v[0] = rotl64(v[0], 32)
    v[2] += v[3]; v[3] = rotl64(v[3], 16); v[3] ^= v[2]
    v[0] += v[3]; v[3] = rotl64(v[3], 21); v[3] ^= v[0]
    v[2] += v[1]; v[1] = rotl64(v[1], 17); v[1] ^= v[2]; v[2] = rotl64(v[2], 32)


cdef uint64_t siphash_tuple(uint64_t k0, uint64_t k1, uint32_t laddr, uint32_t raddr,
                            uint16_t lport, uint16_t rport, uint32_t extra) noexcept nogil:
    """SipHash-2-4 of the 16-byte message laddr|raddr|lport|rport|extra."""
    cdef uint64_t v[4]
    cdef uint64_t m0 = <uint64_t>laddr | (<uint64_t>raddr << 32)
    cdef uint64_t m1 = <uint64_t>lport | (<uint64_t>rport << 16) | (<uint64_t>extra << 32)
    cdef uint64_t b = <uint64_t>16 << 56
    v[0] = k0 ^ 0x736f6d6570736575ULL
    v[1] = k1 ^ 0x646f72616e646f6dULL
    v[2] = k0 ^ 0x6c7967656e657261ULL
    v[3] = k1 ^ 0x7465646279746573ULL
    v[3] ^= m0; sipround(v); sipround(v); v[0] ^= m0
    v[3] ^= m1; sipround(v); sipround(v); v[0] ^= m1
    v[3] ^= b; sipround(v); sipround(v); v[0] ^= b
    v[2] ^= 0xff
    sipround(v); sipround(v); sipround(v); sipround(v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]
