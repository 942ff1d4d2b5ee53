cdef uint64_t mono_ns() noexcept nogil

cdef class VirtualClock:
    cdef public uint64_t now_ns
