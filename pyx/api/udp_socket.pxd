cdef class UdpSocket(SocketTimeouts):
    cdef Stack stack
    cdef int32_t uid
    cdef readonly int port
    cdef bint closed
    cdef UdpSock *_u(self) except NULL
