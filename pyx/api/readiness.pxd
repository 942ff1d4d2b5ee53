cdef class SocketTimeouts:
    cdef object timeout
    cdef object _timeout_for(self, object timeout)
cdef int obj_readiness(object obj) except -1
