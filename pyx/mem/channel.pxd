cdef class Channel:
    cdef nc_ring *ring
    cdef MappedRegion region
    cdef _setup(self, MappedRegion region, uint32_t size, bint init)
