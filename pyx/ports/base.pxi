# Port: the Python handle on one element of a port chain (a driver, or a
# wrapper around another element). The stack only ever calls through the C
# vtable in nc_port; this object owns the memory behind it and keeps the
# element it wraps alive.

cdef class Port:
    """A port chain element. Holds the nc_port the stack calls through."""
    cdef nc_port *p
    cdef readonly str uri
    cdef readonly Port inner
    cdef bint closed

    def __cinit__(self):
        self.p = NULL
        self.closed = False

    @property
    def mac(self):
        return ":".join(f"{self.p.mac[i]:02x}" for i in range(6))

    @property
    def mtu(self):
        return self.p.mtu

    @property
    def link_up(self):
        return bool(self.p.ops.link_up(self.p))

    @property
    def virtual_time(self):
        """True when frames move only when polled (safe on a virtual clock)."""
        return bool(self.p.caps & NC_CAP_VIRTUAL_TIME)

    def stats(self):
        """Counters of this element and every element under it."""
        d = {} if self.inner is None else self.inner.stats()
        d.update(self._own_stats())
        return d

    def _own_stats(self):
        return {}

    def close(self):
        """Close this element, then the one it wraps. Idempotent."""
        if not self.closed:
            self.closed = True
            self._close()
            if self.inner is not None:
                self.inner.close()

    def _close(self):
        pass
