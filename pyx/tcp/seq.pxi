# Sequence numbers: 32-bit, compared modulo 2^32 (RFC 9293 3.4).

cdef inline bint seq_lt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) < 0


cdef inline bint seq_leq(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) <= 0


cdef inline bint seq_gt(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) > 0


cdef inline bint seq_geq(uint32_t a, uint32_t b) noexcept nogil:
    return <int32_t>(a - b) >= 0


cdef inline uint32_t seq_max(uint32_t a, uint32_t b) noexcept nogil:
    return b if seq_lt(a, b) else a


cdef inline uint32_t seq_min(uint32_t a, uint32_t b) noexcept nogil:
    return a if seq_lt(a, b) else b
