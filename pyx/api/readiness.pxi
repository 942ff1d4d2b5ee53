# Readiness: what a call on a socket object would do now without waiting, as
# poll(2) tells for a kernel socket (READABLE: recv/accept/recvfrom returns
# at once, with data, EOF or an error; WRITABLE: send takes at least one byte
# or raises), and the socket module's default timeouts (settimeout,
# setblocking, gettimeout) that Connection, Listener and UdpSocket inherit.
# Stack.wait, Stack.readiness and netchan.NetchanSelector are built on it.

READABLE = 1                    # the values of selectors.EVENT_READ / EVENT_WRITE
WRITABLE = 2


cdef class SocketTimeouts:
    """settimeout/gettimeout/setblocking as on a socket: the timeout used by
    calls given timeout=None (their default). None: block (the default);
    0.0: non-blocking (BlockingIOError); seconds: TimeoutError after them."""

    def settimeout(self, value):
        if value is not None:
            value = float(value)
            if not value >= 0:
                raise ValueError("Timeout value out of range")
        self.timeout = value

    def gettimeout(self):
        return self.timeout

    def setblocking(self, flag):
        self.timeout = None if flag else 0.0

    def getblocking(self):
        return self.timeout != 0.0

    cdef object _timeout_for(self, object timeout):
        return self.timeout if timeout is None else timeout


cdef int obj_readiness(object obj) except -1:
    """READABLE | WRITABLE bits of a Connection, Listener or UdpSocket. A
    closed object, or one whose stack closed, is both (its calls raise at
    once)."""
    cdef Connection c
    cdef TcpListener l
    cdef UdpSocket u
    cdef Tcb *t
    cdef UdpSock *us
    cdef int m = 0
    if isinstance(obj, Connection):
        c = <Connection>obj
        if c.closed or c.stack.closed:
            return 3
        t = &c.st.tcbs[c.id]
        if t.gen != c.gen or t.state == CLOSED or t.soerror:
            return 3
        if (t.rcv.base != NULL and t.rcv.tail > t.rcv.head) or c.rd_shut or t.flags & TF_RCVD_FIN:
            m |= 1
        if t.flags & TF_FIN_QUEUED or not (t.state == ESTABLISHED or t.state == CLOSE_WAIT or
                                           t.state == SYN_SENT or t.state == SYN_RECEIVED):
            m |= 2                      # send raises EPIPE at once
        elif ((t.state == ESTABLISHED or t.state == CLOSE_WAIT) and
              (t.snd.base == NULL or tcp_snd_space(c.st, t) > 0)):
            m |= 2
        return m
    if isinstance(obj, TcpListener):
        l = <TcpListener>obj
        if l.closed or l.stack.closed:
            return 1
        return 1 if l.stack.st.listeners[l.lid].aq_len else 0
    if isinstance(obj, UdpSocket):
        u = <UdpSocket>obj
        if u.closed or u.stack.closed:
            return 3
        us = &u.stack.st.udps[u.uid]
        return 3 if nc_ring_count(us.chan) or us.big_len else 2
    raise TypeError(f"not a netchan Connection, Listener or UdpSocket: {obj!r}")
