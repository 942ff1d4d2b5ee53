cdef class TcpListener(SocketTimeouts):
    cdef Stack stack
    cdef int32_t lid
    cdef readonly int port
    cdef bint closed
    cdef Listener *_l(self) except NULL
