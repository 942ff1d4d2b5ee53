cdef size_t round_up(size_t n, size_t to) noexcept nogil

cdef class MappedRegion:
    cdef uint8_t *ptr
    cdef readonly size_t size
    cdef readonly bint hugepages
    cdef readonly object path

cdef MappedRegion map_private(size_t size, object hugepages=*)
cdef MappedRegion map_fd(int fd, size_t size, bint hugepages, object path)
