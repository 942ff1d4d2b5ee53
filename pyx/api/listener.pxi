# TcpListener (netchan.Listener): the Python handle on a listening port;
# the C side of listening is pyx/tcp/listen.pxi.

cdef class TcpListener(SocketTimeouts):
    """A listening TCP port (from Stack.listen)."""

    cdef Listener *_l(self) except NULL:
        if self.closed:
            raise _os_error(_EBADF, f"listener on port {self.port} is closed")
        self.stack._check_open()
        return &self.stack.st.listeners[self.lid]

    def accept(self, timeout=None):
        """The next established connection; waits up to timeout seconds."""
        cdef Listener *l = self._l()
        cdef StackState *st = self.stack.st
        cdef uint64_t deadline = self.stack._deadline(self._timeout_for(timeout))
        cdef Tcb *t
        while True:
            t = listener_pop(st, l)
            if t != NULL:
                t.flags |= TF_ACCEPTED
                t.listener = -1
                return self.stack._wrap(t)
            self.stack._drive(deadline)
            l = self._l()

    @property
    def backlog(self):
        return self._l().backlog

    @property
    def pending(self):
        """Established connections waiting for accept()."""
        return self._l().aq_len

    @property
    def overflows(self):
        return self._l().overflows

    def close(self):
        """Stop listening; connections not yet accepted are reset."""
        cdef StackState *st
        if self.closed or self.stack.closed:
            self.closed = True
            return
        st = self.stack.st
        stack_set_now(st, self.stack._now())
        listener_close(st, self.lid)
        self.closed = True
        self.stack._kick()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<netchan.Listener {self.stack.ip}:{self.port}{' closed' if self.closed else ''}>"
