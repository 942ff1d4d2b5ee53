cdef class Connection(SocketTimeouts):
    cdef Stack stack
    cdef StackState *st
    cdef uint32_t id
    cdef uint32_t gen
    cdef list pins
    cdef bint closed
    cdef bint rd_shut
    cdef uint32_t snd_exports   # send views alive: commit/send refuse while any is
    cdef object __weakref__
    cdef Tcb *_t(self) except NULL
    cdef int _no_send_view(self, str what) except -1
    cdef int _snd_attach(self, Tcb *t, str what) except -1
    cdef void _count_export(self, WindowExport ex, int delta) noexcept
    cdef bint _held_long_enough(self, uint64_t *since)
    cdef void _pin(self, uint64_t off)
    cdef void _unpin(self, uint64_t off)
    cdef int _raise_soerror(self, Tcb *t, str what) except -1
    cdef void _window_opened(self, Tcb *t) noexcept
    cdef uint32_t _wait_readable(self, object timeout) except? 0xffffffff
    cdef uint32_t _wait_writable(self, uint32_t want, object timeout) except? 0xffffffff
    cdef void _queue_fin(self, Tcb *t) noexcept
