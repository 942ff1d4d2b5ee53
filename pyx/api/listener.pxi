# TcpListener (netchan.Listener): the Python handle on a listening port;
# the C side of listening is pyx/tcp/listen.pxi. A handle only Stack.listen
# makes (Python cannot), checked by the listener slot's generation, and
# closed with a ResourceWarning when it is collected unclosed (as
# socket.socket is): nothing else can reach that port's listener any more.

cdef class TcpListener(SocketTimeouts):
    """A listening TCP port (from Stack.listen; not constructible)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("netchan.Listener cannot be created directly: Stack.listen() makes one")

    cdef Listener *_l(self) except NULL:
        cdef Listener *l
        if self.stack is None:
            raise _os_error(_EBADF, "this Listener was not made by Stack.listen()")
        if self.closed:
            raise _os_error(_EBADF, f"listener on port {self.port} is closed")
        self.stack._check_open()
        l = &self.stack.st.listeners[self.lid]
        if not l.active or l.gen != self.gen:
            raise _os_error(_EBADF, f"listener on port {self.port} no longer exists")
        return l

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
        """Stop listening; connections not yet accepted are reset. Closing
        twice, or after the stack closed, does nothing."""
        cdef StackState *st
        if self.stack is None:
            raise _os_error(_EBADF, "this Listener was not made by Stack.listen()")
        if self.closed or self.stack.closed or self.stack.st.listeners[self.lid].gen != self.gen:
            self.closed = True
            return
        st = self.stack.st
        stack_set_now(st, self.stack._now())
        listener_close(st, self.lid)
        self.closed = True
        self.stack._kick()

    def __del__(self):
        # tp_finalize (PEP 442): the object is whole here, so close() is safe
        if (self.stack is None or self.closed or self.stack.closed or
                self.stack.st.listeners[self.lid].gen != self.gen):
            return
        try:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
        except Exception:
            pass                        # warnings raised as errors, or interpreter teardown
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if self.stack is None:
            return "<netchan.Listener (not made by a Stack)>"
        closed = self.closed or self.stack.closed
        return f"<netchan.Listener {self.stack.ip}:{self.port}{' closed' if closed else ''}>"
