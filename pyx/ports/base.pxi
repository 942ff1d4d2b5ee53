# Port: the Python handle on one element of a port chain (a driver, or a
# wrapper around another element). The stack only ever calls through the C
# vtable in nc_port; this object owns the memory behind it and keeps the
# element it wraps alive.
#
# Wake-up fds (Port.fileno): an event loop sleeps on one fd per stack. Each
# port gives the fd that becomes readable when frames may be waiting:
#   shm      a FIFO per side beside the link file (/dev/shm/netchan-link-NAME.bellN),
#            written by the peer's tx_burst when this side said it sleeps on it
#   pair     a pipe per side, written the same way by the other end in this process
#   afpacket the packet socket (readable when the kernel writes a frame: V2; retires a block: V3)
#   others   (DPDK without rx interrupts) a timerfd, armed to the next deadline
#            capped at BELL_POLL_NS: polling, but the loop still sleeps in between
# Wrappers (fault, pcap) give the fd of the element they wrap. The protocol:
# _arm(wait_ns) says "about to sleep" (False: something is waiting already,
# poll instead); _disarm() after waking drains the fd.


cdef extern from "<unistd.h>" nogil:
    ssize_t nc_fd_write "write"(int fd, const void *buf, size_t n)
    ssize_t nc_fd_read "read"(int fd, void *buf, size_t n)


cdef extern from "<sys/timerfd.h>" nogil:
    struct nc_itimerspec "itimerspec":
        sysc.timespec it_interval
        sysc.timespec it_value
    int nc_timerfd_create "timerfd_create"(int clockid, int flags)
    int nc_timerfd_settime "timerfd_settime"(int fd, int flags, const nc_itimerspec *new_value,
                                            nc_itimerspec *old_value)
    int NC_TFD_NONBLOCK "TFD_NONBLOCK"
    int NC_TFD_CLOEXEC "TFD_CLOEXEC"
    int NC_CLOCK_MONOTONIC "CLOCK_MONOTONIC"


BELL_POLL_NS = 1000000          # a port without events is looked at every 1 ms
cdef uint64_t _BELL_POLL_NS = 1000000


cdef void fd_drain(int fd) noexcept nogil:
    """Read a non-blocking fd (pipe, FIFO, timerfd) until it would block."""
    cdef uint8_t buf[64]
    if fd < 0:
        return
    while nc_fd_read(fd, buf, sizeof(buf)) > 0:
        pass

cdef class Port:
    """A port chain element. Holds the nc_port the stack calls through."""

    def __cinit__(self):
        self.p = NULL
        self.closed = False
        self.timer_fd = -1

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

    def moves_superframes(self):
        """True when the link hands over (or takes) TCP super-frames of up
        to 64 KiB, as a GRO/TSO afpacket port does: the stack then sizes
        its default windows as on a jumbo link."""
        return self.inner.moves_superframes() if self.inner is not None else False

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

    # ---- the wake-up fd (see the top of this file) ------------------------

    cdef int _bell_fd(self) noexcept:
        """The fd this element (or the one it wraps) makes readable on an
        event, or -1 when it has none."""
        return self.inner._bell_fd() if self.inner is not None else -1

    def fileno(self):
        """An fd that becomes readable when this port may have work: the
        port's event fd, or a timerfd for a port without events."""
        self._check_usable()
        cdef int fd = self._bell_fd()
        if fd >= 0:
            return fd
        if self.timer_fd < 0:
            self.timer_fd = nc_timerfd_create(NC_CLOCK_MONOTONIC, NC_TFD_NONBLOCK | NC_TFD_CLOEXEC)
            if self.timer_fd < 0:
                raise _os_error(sysc.errno, f"{self.uri}: timerfd_create")
        return self.timer_fd

    cdef bint _arm(self, uint64_t wait_ns) except -1:
        """About to sleep on fileno() for at most wait_ns (0: no deadline).
        False when frames are waiting already (poll instead of sleeping)."""
        cdef nc_itimerspec its
        if self.inner is not None and self.inner._bell_fd() >= 0:
            return self.inner._arm(wait_ns)
        if self.timer_fd >= 0:
            if wait_ns == 0 or wait_ns > _BELL_POLL_NS:
                wait_ns = _BELL_POLL_NS
            memset(&its, 0, sizeof(its))
            its.it_value.tv_sec = <long>(wait_ns // 1000000000ULL)
            its.it_value.tv_nsec = <long>(wait_ns % 1000000000ULL)
            nc_timerfd_settime(self.timer_fd, 0, &its, NULL)
        return True

    cdef bint _window_boards(self, WindowBoard **me, WindowBoard **peer) noexcept:
        """Can the stack on this port publish its send windows for the peer
        to read in place? Only on a shm (or pair) link end itself: a
        wrapper copies or holds frames, which a reference must not outlive."""
        return False

    cdef void _disarm(self) noexcept:
        """Woken (or done waiting): drain the fd, stop asking to be rung."""
        if self.inner is not None and self.inner._bell_fd() >= 0:
            self.inner._disarm()
        elif self.timer_fd >= 0:
            fd_drain(self.timer_fd)

    cdef _check_usable(self):
        if self.closed or self.p == NULL:
            raise ValueError("port is closed")

    def close(self):
        """Close this element, then the one it wraps. Idempotent."""
        if not self.closed:
            self.closed = True
            if self.timer_fd >= 0:
                _os.close(self.timer_fd)
                self.timer_fd = -1
            self._close()
            if self.inner is not None:
                self.inner.close()

    def _close(self):
        pass
