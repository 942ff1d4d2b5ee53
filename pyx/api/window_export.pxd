cdef class WindowExport:
    cdef Connection conn
    cdef uint8_t *ptr
    cdef Py_ssize_t size
    cdef uint64_t off
    cdef uint32_t slot
    cdef uint8_t foreign          # Window.foreign of the window shown
    cdef bint receive
    cdef bint exported
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]
