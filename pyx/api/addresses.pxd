cdef uint32_t _ip_to_u32(object host) except? 0
cdef str _u32_to_ip(uint32_t a)
