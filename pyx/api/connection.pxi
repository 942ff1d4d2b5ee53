# Connection: the Python handle on one TCP control block (checked by
# generation, so a stale handle cannot reach a reused block): blocking and
# non-blocking send/recv, the zero-copy windows (recv_view/consume,
# send_view/commit), shutdown, close, abort and the per-connection options.
#
# Lifetimes: only Stack.connect / Listener.accept make a Connection (Python
# cannot: TypeError); every call checks the handle, its stack and the
# block's generation before touching C memory (EBADF otherwise); a handle
# collected without close() is closed then, with a ResourceWarning, as
# socket.socket is.

import warnings as _warnings

# A blocking send held to the edge of a shm peer that reads our send window
# in place waits this long for the peer to read before the window moves to
# a slot of its own (tcp_snd_move); on a virtual clock it moves at once (the
# peer's application cannot run during the call).
cdef uint64_t SND_MOVE_AFTER_NS = 10000000


cdef class Connection(SocketTimeouts):
    """An established TCP connection (from Listener.accept or Stack.connect;
    not constructible).

    recv/recv_into/send/sendall work as on a socket. recv_view() hands out the
    readable bytes without copying; consume(n) returns them to the window.
    send_view()/commit(n) do the same for writing: release the view before
    commit(n) (`with conn.send_view() as v: ...`), so that no view can reach
    bytes once they are queued.

    After the stack closed, every call raises OSError(EBADF, "the stack is
    closed") except close() and abort(), which do nothing, and `state`,
    which says "CLOSED". A Connection dropped without close() is closed
    gracefully when collected, with a ResourceWarning."""

    def __init__(self, *args, **kwargs):
        raise TypeError("netchan.Connection cannot be created directly: Stack.connect() "
                        "and Listener.accept() make them")

    cdef Tcb *_t(self) except NULL:
        cdef Tcb *t
        if self.stack is None:
            raise _os_error(_EBADF, "this Connection was not made by Stack.connect() "
                                    "or Listener.accept()")
        if self.closed:
            raise _os_error(_EBADF, "connection is closed")
        self.stack._check_open()
        t = &self.st.tcbs[self.id]
        if t.gen != self.gen:
            raise _os_error(_EBADF, "connection no longer exists")
        return t

    cdef void _count_export(self, WindowExport ex, int delta) noexcept:
        """A view of a window appears (+1) or goes (-1): counted on the slot
        it shows, ours or the shm peer's read in place, so it is not reused
        meanwhile (mem/arena.pxi, mem/peer_windows.pxi)."""
        cdef PeerWindows *pw
        cdef Arena *a
        if ex.foreign:
            pw = &self.st.peer_wins[ex.foreign - 1]
            if delta > 0:
                peerwin_export(pw, ex.slot)
            else:
                peerwin_unexport(pw, ex.slot)
        else:
            a = &self.st.rcv_arena if ex.receive else &self.st.snd_arena
            if delta > 0:
                arena_export(a, ex.slot)
            else:
                arena_unexport(a, ex.slot)

    cdef void _pin(self, uint64_t off):
        cdef Tcb *t = &self.st.tcbs[self.id]
        self.pins.append(off)
        if t.gen == self.gen and off < t.rcv_pin:
            t.rcv_pin = off

    cdef void _unpin(self, uint64_t off):
        cdef Tcb *t = &self.st.tcbs[self.id]
        try:
            self.pins.remove(off)
        except ValueError:
            pass
        # a view released after close() or after the stack closed sends
        # nothing (the port may be gone)
        if t.gen == self.gen and not self.closed and not self.stack.closed:
            t.rcv_pin = min(self.pins) if self.pins else <uint64_t>-1
            tcp_rcv_idle(self.st, t)
            self._window_opened(t)

    cdef int _raise_soerror(self, Tcb *t, str what) except -1:
        if t.soerror == _ECONNABORTED:
            # set only by stack_peer_lost (iface/poll.pxi)
            what += f": the host at the other end of {self.stack.uri} is gone (its process died)"
        raise _os_error(t.soerror, what)

    cdef void _window_opened(self, Tcb *t) noexcept:
        """After the application freed receive space: announce it when the
        right edge of the window we would now offer (SWS-avoided, capped,
        rounded to the scale) moves past the one we advertised by enough to
        matter (RFC 9293 3.8.6.2.2), or when the window was nearly shut.
        Never once the stack is closed: its port may be gone."""
        if self.stack.closed:
            return
        if t.state != ESTABLISHED and t.state != FIN_WAIT_1 and t.state != FIN_WAIT_2:
            return
        if tcp_window_update_due(t):
            t.flags |= TF_WND_UPDATE
            tcp_schedule(self.st, t)
            self.stack._kick()

    cdef uint32_t _wait_readable(self, object timeout) except? 0xffffffff:
        """Bytes readable now (0 at EOF), waiting for some."""
        cdef Tcb *t = self._t()
        cdef uint64_t deadline = 0
        cdef bint have_deadline = False
        cdef uint32_t avail
        while True:
            avail = <uint32_t>(t.rcv.tail - t.rcv.head) if t.rcv.base != NULL else 0
            if avail:
                return avail
            if self.rd_shut or t.flags & TF_RCVD_FIN:
                return 0
            if t.soerror:
                self._raise_soerror(t, "recv")
            if t.state == CLOSED:
                return 0
            if not have_deadline:
                deadline = self.stack._deadline(self._timeout_for(timeout))
                have_deadline = True
            self.stack._drive(deadline)
            t = self._t()

    def recv(self, Py_ssize_t n=65536, timeout=None):
        """Up to n bytes; b"" at end of stream. recv(0) returns b"" at once."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if n == 0:
            self._t()
            return b""
        cdef uint32_t avail = self._wait_readable(timeout)
        cdef Tcb *t = self._t()
        if avail == 0 or n == 0:
            return b""
        if n > avail:
            n = avail
        data = PyBytes_FromStringAndSize(<char *>window_at(&t.rcv, t.rcv.head), n)
        t.rcv.head += <uint64_t>n
        tcp_rcv_idle(self.st, t)
        self._window_opened(t)
        return data

    def recv_into(self, buffer, Py_ssize_t nbytes=0, timeout=None):
        """Read into a writable buffer; returns the byte count (0 at EOF; 0
        at once for an empty buffer)."""
        cdef Py_buffer view
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        cdef Py_ssize_t n
        cdef uint32_t avail
        cdef Tcb *t
        try:
            n = view.len if nbytes <= 0 or nbytes > view.len else nbytes
            if n == 0:
                self._t()
                return 0
            avail = self._wait_readable(timeout)
            t = self._t()
            if n > avail:
                n = avail
            if n:
                memcpy(view.buf, window_at(&t.rcv, t.rcv.head), n)
                t.rcv.head += <uint64_t>n
                tcp_rcv_idle(self.st, t)
                self._window_opened(t)
            return n
        finally:
            PyBuffer_Release(&view)

    def recv_view(self, timeout=None):
        """A read-only memoryview of every byte readable now (empty at EOF),
        without consuming them. Give bytes back with consume(n); releasing
        the view does not consume. While the view lives its bytes stay put.
        It is zero-copy all the way: numpy.frombuffer(view) reads the window
        itself."""
        cdef uint32_t avail = self._wait_readable(timeout)
        cdef Tcb *t = self._t()
        cdef WindowExport ex = WindowExport.__new__(WindowExport)
        if avail == 0:
            return memoryview(b"")
        ex.conn = self
        ex.ptr = window_at(&t.rcv, t.rcv.head)
        ex.size = avail
        ex.off = t.rcv.head
        ex.slot = t.rcv.slot
        ex.foreign = t.rcv.foreign
        ex.receive = True
        return memoryview(ex)

    def consume(self, Py_ssize_t n):
        """Give the first n readable bytes back to the receive window."""
        cdef Tcb *t = self._t()
        cdef uint64_t avail = t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0
        if n < 0 or <uint64_t>n > avail:
            raise ValueError(f"consume({n}): only {avail} bytes are readable")
        t.rcv.head += <uint64_t>n
        tcp_rcv_idle(self.st, t)
        self._window_opened(t)

    @property
    def readable(self):
        """Bytes that recv would return now without waiting."""
        cdef Tcb *t = self._t()
        return t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0

    cdef int _snd_attach(self, Tcb *t, str what) except -1:
        """The send window takes its slot at the first write; ENOBUFS when
        the stack's window memory is exhausted. Clears a send view's hold:
        bytes are being queued now."""
        t.snd.hold = 0
        if t.snd.base == NULL and not window_attach(&t.snd, &self.st.snd_arena):
            self.st.ctr[C_TCP_WINDOW_ARENA_FULL] += 1
            raise _os_error(_errno.ENOBUFS,
                            f"{what}: no slot for the send window: "
                            f"{window_refusal_reason(&self.st.snd_arena)}")
        return 0

    cdef int _no_send_view(self, str what) except -1:
        """Refuse to queue bytes while a send view is exported: the view
        reaches the free part of the send window, and once bytes there are
        queued they are in flight (a retransmission would carry whatever the
        view wrote later)."""
        if self.snd_exports:
            raise BufferError(f"{what}: a send_view() is still exported; release it first "
                              f"(view.release(), or `with conn.send_view() as view:`)")
        return 0

    @property
    def error(self):
        """The pending socket error as an errno (0 if none), as
        getsockopt(SO_ERROR) gives it, without reading any data. Unlike
        SO_ERROR, reading it does not clear it: recv/send keep raising it."""
        return self._t().soerror

    cdef uint32_t _wait_writable(self, uint32_t want, object timeout) except? 0xffffffff:
        cdef Tcb *t = self._t()
        cdef uint64_t deadline = 0
        cdef bint have_deadline = False
        cdef uint32_t space
        cdef uint64_t stalled_since = 0
        while True:
            if t.soerror:
                self._raise_soerror(t, "send")
            if t.flags & TF_FIN_QUEUED or not (t.state == ESTABLISHED or t.state == CLOSE_WAIT or
                                               t.state == SYN_SENT or t.state == SYN_RECEIVED):
                raise _os_error(_EPIPE, "the connection is shut down for writing")
            if t.state == ESTABLISHED or t.state == CLOSE_WAIT:
                space = tcp_snd_space(self.st, t)
                if space >= want:
                    return space
            if not have_deadline:
                deadline = self.stack._deadline(self._timeout_for(timeout))
                have_deadline = True
            if ((t.state == ESTABLISHED or t.state == CLOSE_WAIT) and deadline != NONBLOCK and
                    window_space(&t.snd) >= want and self._held_long_enough(&stalled_since) and
                    tcp_snd_move(self.st, t)):
                continue
            self.stack._drive(deadline)
            t = self._t()

    cdef bint _held_long_enough(self, uint64_t *since):
        """The send window has room but is held to the edge of a shm peer
        that reads it in place: has it stayed so long enough to move it
        (tcp_snd_move)? Its application may not be reading at all (maybe it
        is this thread): at once on a virtual clock, after SND_MOVE_AFTER_NS
        on a real one (*since: when this wait first found it held)."""
        cdef uint64_t now
        if self.stack.vclock is not None:
            return True
        now = self.stack._now()
        if since[0] == 0:
            since[0] = now
            return False
        return now - since[0] >= SND_MOVE_AFTER_NS

    def send(self, data, timeout=None):
        """Queue as much of data as the send window takes (waiting for room
        for at least one byte); returns the count."""
        cdef Py_buffer view
        cdef uint32_t space
        cdef Py_ssize_t n
        cdef Tcb *t
        self._no_send_view("send")
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len == 0:
                return 0
            space = self._wait_writable(1, timeout)
            t = self._t()
            n = view.len if view.len < space else space
            self._snd_attach(t, "send")
            memcpy(window_at(&t.snd, t.snd.tail), view.buf, n)
            t.snd.tail += <uint64_t>n
            tcp_schedule(self.st, t)
            self.stack._kick()
            return n
        finally:
            PyBuffer_Release(&view)

    def sendall(self, data, timeout=None):
        """Queue all of data, waiting for room as often as needed. The
        timeout applies to the whole call."""
        cdef Py_buffer view
        cdef Py_ssize_t done = 0, n
        cdef uint32_t space
        cdef Tcb *t
        self._no_send_view("sendall")
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            deadline_timeout = timeout = self._timeout_for(timeout)
            timed = timeout is not None and float(timeout) > 0
            if timed:
                end = self.stack._deadline(timeout)
            while done < view.len:
                if timed:
                    now = self.stack._now()
                    if now >= end:
                        raise _os_error(_ETIMEDOUT, f"sendall: {done} of {view.len} bytes queued")
                    deadline_timeout = (end - now) / 1e9
                space = self._wait_writable(1, deadline_timeout)
                self._no_send_view("sendall")       # made while we waited
                t = self._t()
                n = view.len - done
                if n > space:
                    n = space
                self._snd_attach(t, "sendall")
                memcpy(window_at(&t.snd, t.snd.tail), <uint8_t *>view.buf + done, n)
                t.snd.tail += <uint64_t>n
                done += n
                tcp_schedule(self.st, t)
                self.stack._kick()
        finally:
            PyBuffer_Release(&view)

    def send_view(self, Py_ssize_t min_bytes=1, timeout=None):
        """A writable memoryview of the free send window (at least min_bytes,
        waiting for them). Write into it, release it, then commit(n) to send
        n bytes:

            with conn.send_view() as view:
                view[:5] = b"hello"
            conn.commit(5)

        commit(), send() and sendall() raise BufferError while a send view
        (or anything made from it, such as a numpy array) is alive, so a
        view never reaches bytes that are queued or in flight. Each call
        makes a fresh view of the space free now."""
        if min_bytes < 1:
            raise ValueError("min_bytes must be >= 1")
        cdef Tcb *t = self._t()
        if <uint64_t>min_bytes > t.snd.size:
            raise ValueError(f"min_bytes={min_bytes} exceeds the send window ({t.snd.size})")
        cdef uint32_t space = self._wait_writable(<uint32_t>min_bytes, timeout)
        t = self._t()
        self._snd_attach(t, "send_view")
        t.snd.hold = 1                  # until commit(): the view's bytes must stay
        cdef WindowExport ex = WindowExport.__new__(WindowExport)
        ex.conn = self
        ex.ptr = window_at(&t.snd, t.snd.tail)
        ex.size = space
        ex.off = t.snd.tail
        ex.slot = t.snd.slot
        ex.receive = False
        return memoryview(ex)

    def commit(self, Py_ssize_t n):
        """Send the first n bytes written into the latest send_view(), which
        must be released first (BufferError otherwise)."""
        cdef Tcb *t = self._t()
        self._no_send_view("commit")
        if n < 0 or <uint64_t>n > window_space(&t.snd):
            raise ValueError(f"commit({n}): only {window_space(&t.snd)} bytes of window are free")
        if t.flags & TF_FIN_QUEUED:
            raise _os_error(_EPIPE, "the connection is shut down for writing")
        t.snd.tail += <uint64_t>n
        t.snd.hold = 0
        if n:
            tcp_schedule(self.st, t)
            self.stack._kick()
        else:
            tcp_snd_idle(self.st, t)

    cdef void _queue_fin(self, Tcb *t) noexcept:
        if tcp_queue_fin(self.st, t):
            self.stack._kick()

    def shutdown(self, int how):
        """socket.SHUT_RD, SHUT_WR (send FIN after the queued data) or SHUT_RDWR."""
        if how not in (_socket.SHUT_RD, _socket.SHUT_WR, _socket.SHUT_RDWR):
            raise ValueError("how must be SHUT_RD, SHUT_WR or SHUT_RDWR")
        cdef Tcb *t = self._t()
        if t.state == SYN_SENT or t.state == CLOSED:
            raise _os_error(_ENOTCONN, "shutdown")
        if how != _socket.SHUT_WR:
            self.rd_shut = True
        if how != _socket.SHUT_RD:
            self._queue_fin(t)

    def close(self):
        """Close gracefully (FIN after queued data). Unread received data
        makes it an abortive close (RST), as RFC 2525 asks. Closing twice,
        or after the stack closed, does nothing."""
        if self.stack is None:
            self._t()                   # raises: not a Stack's connection
        if self.closed:
            return
        cdef Tcb *t = &self.st.tcbs[self.id]
        if self.stack.closed or t.gen != self.gen:
            self.closed = True
            return
        stack_set_now(self.st, self.stack._now())
        t.flags &= ~TF_HANDLE
        t.flags |= TF_APP_CLOSED
        self.closed = True
        if t.state == CLOSED or t.state == SYN_SENT:
            tcb_free(self.st, t)
            return
        if t.rcv.base != NULL and t.rcv.tail > t.rcv.head and t.state != TIME_WAIT:
            tcp_send_rst(self.st, t)
            tcb_free(self.st, t)
            self.stack._kick()
            return
        if t.state == TIME_WAIT:
            tcp_time_wait_record(self.st, t)    # a record keeps the rest of 2 MSL
            return
        if t.state == FIN_WAIT_2:
            t.t_2msl = self.st.now + 2 * self.st.cfg.msl_ns
            timer_rearm(self.st, t)
        self._queue_fin(t)

    def abort(self):
        """Drop the connection at once with a RST."""
        if self.stack is None:
            self._t()                   # raises: not a Stack's connection
        if self.closed:
            return
        cdef Tcb *t = &self.st.tcbs[self.id]
        self.closed = True
        if self.stack.closed or t.gen != self.gen:
            return
        t.flags &= ~TF_HANDLE
        if t.state != CLOSED and t.state != SYN_SENT and t.state != TIME_WAIT:
            tcp_send_rst(self.st, t)
        tcb_free(self.st, t)
        self.stack._kick()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # tp_finalize (PEP 442): runs before the object is torn down, with
        # the object whole, so close() is safe here (unlike __dealloc__).
        # A stack that closed has reset or finished the connection already:
        # nothing to send (its port may be gone).
        cdef Tcb *t
        if self.stack is None or self.closed or self.stack.closed:
            return
        t = &self.st.tcbs[self.id]
        if t.gen != self.gen:
            return
        try:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
        except Exception:
            pass                        # warnings raised as errors, or interpreter teardown
        try:
            self.close()
        except Exception:
            pass

    # ---- introspection -------------------------------------------------------------

    @property
    def state(self):
        """The RFC 9293 state name ("CLOSED" once closed or once its stack is)."""
        if self.stack is None:
            self._t()                   # raises: not a Stack's connection
        if self.closed or self.stack.closed:
            return "CLOSED"
        cdef Tcb *t = &self.st.tcbs[self.id]
        if t.gen != self.gen:
            return "CLOSED"
        return TCP_STATE_NAMES[t.state]

    def getpeername(self):
        cdef Tcb *t = self._t()
        return _tcp_endpoint(self.st, t.raddr, t.rport, t.raddr, True)

    def getsockname(self):
        cdef Tcb *t = self._t()
        return _tcp_endpoint(self.st, t.laddr, t.lport, t.raddr, False)

    def info(self):
        """TCP state as a dict (like Linux's TCP_INFO): windows, congestion
        control, RTT estimates in seconds, negotiated options."""
        cdef Tcb *t = self._t()
        return {
            "state": TCP_STATE_NAMES[t.state],
            "mss": t.mss, "adv_mss": t.adv_mss,
            "snd_wscale": t.snd_wscale if t.flags & TF_WS_OK else None,
            "rcv_wscale": t.rcv_wscale if t.flags & TF_WS_OK else None,
            "timestamps": bool(t.flags & TF_TS_OK), "sack": bool(t.flags & TF_SACK_OK),
            "cwnd": t.cwnd, "ssthresh": t.ssthresh,
            "srtt": t.srtt / 1e9, "rttvar": t.rttvar / 1e9, "rto": t.rto / 1e9,
            "snd_una": t.snd_una, "snd_nxt": t.snd_nxt, "snd_wnd": t.snd_wnd,
            "rcv_nxt": t.rcv_nxt, "rcv_space": tcp_rcv_space(t),
            "unacked": t.snd_max - t.snd_una,
            "send_queued": t.snd.tail - t.snd.head if t.snd.base != NULL else 0,
            "readable": t.rcv.tail - t.rcv.head if t.rcv.base != NULL else 0,
            "retries": t.retries, "backoff": t.backoff, "retransmits": t.retransmits,
            "cc": CC_NAMES[t.cc], "nodelay": bool(t.flags & TF_NODELAY),
            "in_recovery": ("none", "newreno", "sack")[t.in_recovery],
            "sacked_ranges": t.sack_n, "ooo_ranges": t.ooo_n,
        }

    @property
    def nodelay(self):
        """Nagle's algorithm off (True) or on (False, the default)."""
        return bool(self._t().flags & TF_NODELAY)

    @nodelay.setter
    def nodelay(self, value):
        cdef Tcb *t = self._t()
        if value:
            t.flags |= TF_NODELAY
            tcp_schedule(self.st, t)        # anything Nagle held back goes now
            self.stack._kick()
        else:
            t.flags &= ~TF_NODELAY

    @property
    def cc(self):
        """Congestion control of this connection: "cubic" or "newreno"."""
        return CC_NAMES[self._t().cc]

    @cc.setter
    def cc(self, name):
        tcp_set_cc(self._t(), name)

    def set_keepalive(self, idle=None, interval=75.0, count=9):
        """Probe an idle connection: after `idle` seconds without input, send
        up to `count` probes `interval` seconds apart, then drop it with
        TimeoutError. idle=None turns keepalive off."""
        cdef Tcb *t = self._t()
        if idle is None:
            t.keep_cnt = 0
            t.t_keep = 0
        else:
            from netchan.config import check_keepalive
            k_idle, k_intvl, k_cnt = check_keepalive((idle, interval, count))
            t.keep_idle = k_idle
            t.keep_intvl = k_intvl
            t.keep_cnt = k_cnt
            t.keep_probes = 0
            if t.state == ESTABLISHED or t.state == CLOSE_WAIT or t.state == FIN_WAIT_2:
                t.t_keep = t.last_rcv + t.keep_idle
        timer_rearm(self.st, t)

    @property
    def cwnd(self):
        return self._t().cwnd

    @property
    def ssthresh(self):
        return self._t().ssthresh

    @property
    def srtt(self):
        return self._t().srtt / 1e9

    @property
    def rttvar(self):
        return self._t().rttvar / 1e9

    @property
    def rto(self):
        return self._t().rto / 1e9

    @property
    def mss(self):
        return self._t().mss

    def __repr__(self):
        if self.stack is None:
            return "<netchan.Connection (not made by a Stack)>"
        try:
            local = "%s:%d" % self.getsockname()
            peer = "%s:%d" % self.getpeername()
            return f"<netchan.Connection {local} -> {peer} {self.state}>"
        except OSError:
            return "<netchan.Connection closed>"
