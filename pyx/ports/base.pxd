cdef class Port:
    cdef nc_port *p
    cdef readonly str uri
    cdef readonly Port inner
    cdef bint closed
    cdef int timer_fd             # the wake-up fd of a port without events (timerfd), or -1
    cdef readonly object queue    # (k, n): queue k of n of its link (netchan.steer), or None
    cdef _check_usable(self)
    cdef int _bell_fd(self) noexcept
    cdef bint _arm(self, uint64_t wait_ns) except -1
    cdef void _disarm(self) noexcept
    cdef bint _window_boards(self, WindowBoard **me, WindowBoard **peer) noexcept
