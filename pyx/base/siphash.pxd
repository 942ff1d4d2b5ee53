cdef uint64_t siphash_tuple(uint64_t k0, uint64_t k1, uint32_t laddr, uint32_t raddr,
                            uint16_t lport, uint16_t rport, uint32_t extra) noexcept nogil
