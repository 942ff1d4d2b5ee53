cdef object _os_error(int err, str what)
