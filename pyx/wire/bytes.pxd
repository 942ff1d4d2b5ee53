cdef uint16_t rd16(const uint8_t *p) noexcept nogil
cdef uint32_t rd32(const uint8_t *p) noexcept nogil
cdef void wr16(uint8_t *p, uint16_t v) noexcept nogil
cdef void wr32(uint8_t *p, uint32_t v) noexcept nogil
cdef void store_csum(uint8_t *field, uint16_t c) noexcept nogil
