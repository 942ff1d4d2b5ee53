cdef class TcpListener(SocketTimeouts):
    cdef Stack stack
    cdef int32_t lid
    cdef uint32_t gen           # the listener slot's generation when this handle was made
    cdef readonly int port
    cdef bint closed
    cdef Listener *_l(self) except NULL
