# Port: the Python handle on one element of a port chain (a driver, or a
# wrapper around another element). The stack only ever calls through the C
# vtable in nc_port; this object owns the memory behind it and keeps the
# element it wraps alive.

cdef class Port:
    """A port chain element. Holds the nc_port the stack calls through."""

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

    # ---- raw frame access, for tests and tools that act as a bare peer ------

    def send(self, frame, uint64_t now=0):
        """Transmit one Ethernet frame (bytes-like) as is; returns True if the
        port took it. `now` is the time given to wrappers (fault delays)."""
        self._check_usable()
        cdef const uint8_t[:] data = frame
        cdef uint32_t b
        cdef nc_buf *nb
        cdef uint32_t n = data.shape[0]
        if self.p.ops.alloc_burst(self.p, &b, 1) != 1:
            raise _os_error(_errno.ENOBUFS, "no free buffer in the port's pool")
        nb = nc_port_buf(self.p, b)
        if n > nc_buf_tailroom(nb):
            self.p.ops.free_burst(self.p, &b, 1)
            raise ValueError(f"a {n}-byte frame does not fit this port's buffers "
                             f"({nc_buf_tailroom(nb)} bytes)")
        if n:
            memcpy(nc_buf_data(nb), &data[0], n)
        nb.len = n
        if self.p.ops.tx_burst(self.p, &b, 1, now) == 1:
            return True
        # Refused (ring full): the buffer is still ours to give back.
        self.p.ops.free_burst(self.p, &b, 1)
        return False

    def recv(self, uint32_t max_frames=32, uint64_t now=0):
        """Frames waiting on the port (up to max_frames), as bytes; [] if none."""
        self._check_usable()
        cdef uint32_t bufs[64]
        cdef uint32_t k, i
        cdef nc_buf *nb
        if max_frames > 64:
            max_frames = 64
        k = self.p.ops.rx_burst(self.p, bufs, max_frames, now)
        out = []
        for i in range(k):
            nb = nc_port_buf(self.p, bufs[i])
            out.append(PyBytes_FromStringAndSize(<char *>nc_buf_data(nb), nb.len))
        if k:
            self.p.ops.free_burst(self.p, bufs, k)
        return out

    def check_address(self, ip):
        """Raise if this port cannot carry traffic for a stack with address
        `ip` (an AF_PACKET interface where the kernel owns it). Wrappers ask
        the element they wrap."""
        if self.inner is not None:
            self.inner.check_address(ip)

    def next_deadline(self):
        """When a wrapper next needs a poll (a delayed frame), or None."""
        cdef uint64_t d = self.p.ops.next_deadline(self.p)
        return None if d == <uint64_t>-1 else d

    cdef _check_usable(self):
        if self.closed or self.p == NULL:
            raise ValueError("port is closed")

    def close(self):
        """Close this element, then the one it wraps. Idempotent."""
        if not self.closed:
            self.closed = True
            self._close()
            if self.inner is not None:
                self.inner.close()

    def _close(self):
        pass
