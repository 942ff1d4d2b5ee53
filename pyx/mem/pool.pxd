cdef struct PoolHeader:
    uint32_t magic
    uint32_t count
    uint32_t stride
    uint32_t data_room
    uint64_t slots_offset
    uint64_t alloc_failed
    uint64_t double_free

cdef class BufferPool:
    cdef MappedRegion region
    cdef PoolHeader *hdr
    cdef nc_freestack *fs
    cdef nc_pool pool
    cdef bint owner
    @staticmethod
    cdef size_t _memsize(uint32_t count, uint32_t data_room)
    cdef _bind(self)
    cdef _format(self, uint32_t count, uint32_t data_room)
    cdef _need_owner(self)
    cdef nc_buf *_buf(self, uint32_t idx) except NULL
    cdef uint32_t _capacity(self, nc_buf *b, uint32_t idx) except? 0
