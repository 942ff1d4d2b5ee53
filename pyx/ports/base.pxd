cdef class Port:
    cdef nc_port *p
    cdef readonly str uri
    cdef readonly Port inner
    cdef bint closed
    cdef _check_usable(self)
