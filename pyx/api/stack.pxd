cdef class Stack:
    cdef StackState *st
    cdef readonly Port port
    cdef VirtualClock vclock
    cdef list group
    cdef MappedRegion chan_region
    cdef MappedRegion stats_region
    cdef object stats_path
    cdef readonly str uri
    cdef bint closed
    cdef uint64_t busy_poll_ns
    cdef uint64_t idle_since
    cdef bint busy_poll_always      # spin before every sleep, not only while an answer is due
    cdef bint spin_this_wait        # decided when an idle period starts (_drive)
    cdef uint64_t asked_seen        # _asked() when the last idle period started
    cdef uint64_t asked_at          # when an idle period last found _asked() grown (ns)
    cdef bint nonblock_polled
    cdef readonly bint background
    cdef bint bg_stop
    cdef object bg_thread
    cdef object pair_name
    cdef uint32_t steer_k, steer_n  # queue k of n of the port (netchan.steer); 0, 1: no steering
    cdef object __weakref__
    cdef Port _open_port(self, object port, object mtu)
    cdef _join_group(self, VirtualClock clock)
    cdef uint64_t _now(self)
    cdef uint64_t _deadline(self, object timeout) except? 1
    cdef void _check_open(self) except *
    cdef uint32_t _poll_once(self, uint64_t now) noexcept
    cdef int _drive(self, uint64_t deadline) except -1
    cdef void _sleep(self, uint64_t ns) noexcept
    cdef uint64_t _asked(self) noexcept
    cdef void _kick(self) noexcept
    cdef uint16_t _ephemeral(self, uint32_t laddr, uint32_t raddr, uint16_t rport) except 0
    cdef Connection _wrap(self, Tcb *t)
