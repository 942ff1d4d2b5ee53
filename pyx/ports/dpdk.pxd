cdef class DpdkPort(Port):
    cdef readonly object device
