cdef bint seq_lt(uint32_t a, uint32_t b) noexcept nogil
cdef bint seq_leq(uint32_t a, uint32_t b) noexcept nogil
cdef bint seq_gt(uint32_t a, uint32_t b) noexcept nogil
cdef bint seq_geq(uint32_t a, uint32_t b) noexcept nogil
cdef uint32_t seq_max(uint32_t a, uint32_t b) noexcept nogil
cdef uint32_t seq_min(uint32_t a, uint32_t b) noexcept nogil
