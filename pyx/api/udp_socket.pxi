# UdpSocket: a bound UDP port; datagrams wait in its channel (bounded;
# overflow counted in drops), reassembled ones in its side queue, until
# recvfrom takes them in arrival order. A handle only Stack.udp makes.

cdef class UdpSocket(SocketTimeouts):
    """A bound UDP socket (from Stack.udp; not constructible). Datagrams
    wait in its channel (bounded; overflow is counted in drops) until
    recvfrom takes them."""

    def __init__(self, *args, **kwargs):
        raise TypeError("netchan.UdpSocket cannot be created directly: Stack.udp() makes one")

    cdef UdpSock *_u(self) except NULL:
        if self.stack is None:
            raise _os_error(_EBADF, "this UdpSocket was not made by Stack.udp()")
        if self.closed:
            raise _os_error(_EBADF, "UDP socket is closed")
        self.stack._check_open()
        return &self.stack.st.udps[self.uid]

    def getsockname(self):
        cdef UdpSock *u = self._u()
        return (_u32_to_ip(u.bind_ip) if u.bind_ip else (self.stack.ip or "::"), self.port)

    @property
    def dontfrag(self):
        """True: a datagram larger than the MTU raises EMSGSIZE rather than
        leaving in fragments (IPV6_DONTFRAG; over IPv4 the DF bit is set,
        as IP_PMTUDISC_DO)."""
        return bool(self._u().dont_frag)

    @dontfrag.setter
    def dontfrag(self, value):
        cdef UdpSock *u = self._u()
        if not isinstance(value, bool):
            raise TypeError(f"dontfrag={value!r}: expected True or False")
        u.dont_frag = value

    @property
    def drops(self):
        return self._u().drops

    def sendto(self, data, address):
        """Send one datagram to (host, port); returns its length."""
        cdef UdpSock *u = self._u()
        cdef StackState *st = self.stack.st
        from netchan.config import parse_address
        host, port = parse_address(address, "address")
        cdef bytes dst6 = _udp6_destination(st, host)
        cdef uint32_t dst = 0 if dst6 is not None else _ip_to_u32(host)
        cdef Py_buffer view
        cdef int rc
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            stack_set_now(st, self.stack._now())
            if dst6 is not None:
                rc = udp6_send(st, self.port, <const uint8_t *><const char *>dst6, int(port),
                               <const uint8_t *>view.buf, view.len, u.dont_frag)
            else:
                rc = udp_send(st, u.bind_ip, self.port, dst, int(port),
                              <const uint8_t *>view.buf, view.len, u.dont_frag)
            if rc < 0:
                raise _os_error(-rc, f"sendto {host}:{port} ({view.len} bytes, MTU {st.mtu})")
            self.stack._kick()
            return view.len
        finally:
            PyBuffer_Release(&view)

    def recvfrom(self, Py_ssize_t bufsize=65536, timeout=None):
        """(data, (host, port)) of the next datagram; data is cut to bufsize."""
        cdef UdpSock *u = self._u()
        cdef StackState *st = self.stack.st
        cdef uint64_t deadline = self.stack._deadline(self._timeout_for(timeout))
        cdef uint32_t b
        cdef nc_buf *nb
        cdef uint8_t *l4
        cdef uint32_t n
        cdef BigDgram *d
        cdef bint have_small
        while True:
            have_small = nc_ring_count(u.chan) > 0
            if u.big_len and (not have_small or
                              u.big[u.big_head].seq < _chan_head_seq(st, u.chan)):
                # a reassembled datagram came first
                d = &u.big[u.big_head]
                n = d.len if d.len < bufsize else <uint32_t>bufsize
                data = PyBytes_FromStringAndSize(<char *>d.data, n)
                if d.src == 0:          # IPv6 (udp_queue_big6)
                    src = (str(_ipaddress.IPv6Address(bytes(d.src6[:16]))), d.sport, 0, 0)
                else:
                    src = (_u32_to_ip(d.src), d.sport)
                free(d.data)
                d.data = NULL
                u.big_head = (u.big_head + 1) % UDP_BIG_MAX
                u.big_len -= 1
                return data, src
            if have_small and nc_ring_dequeue(u.chan, &b):
                break
            self.stack._drive(deadline)
            u = self._u()
        nb = nc_port_buf(st.port, b)
        l4 = nc_buf_data(nb) + (nb.user[0] & 0xffffffffu)
        n = <uint32_t>(nb.user[0] >> 32) - UDP_HLEN
        if n > bufsize:
            n = bufsize
        data = PyBytes_FromStringAndSize(<char *>l4 + UDP_HLEN, n)
        if <uint32_t>nb.user[1] == 0:       # IPv6: the source is in the frame (classify6)
            src = (str(_ipaddress.IPv6Address(bytes(nc_buf_data(nb)[ETH_HLEN + 8:ETH_HLEN + 24]))),
                   rd16(l4), 0, 0)
        else:
            src = (_u32_to_ip(<uint32_t>nb.user[1]), rd16(l4))
        st.port.ops.free_burst(st.port, &b, 1)
        return data, src

    def close(self):
        """Unbind; datagrams still queued are dropped. Closing twice, or
        after the stack closed, does nothing."""
        cdef UdpSock *u
        cdef uint32_t b
        if self.stack is None:
            raise _os_error(_EBADF, "this UdpSocket was not made by Stack.udp()")
        if self.closed or self.stack.closed:
            self.closed = True
            return
        u = &self.stack.st.udps[self.uid]
        while nc_ring_dequeue(u.chan, &b):
            self.stack.st.port.ops.free_burst(self.stack.st.port, &b, 1)
        udp_free_big(u)
        u.active = False
        self.stack.st.udp_by_port[self.port] = -1
        self.closed = True

    def __del__(self):
        # collected unclosed: unbind, with a ResourceWarning (as socket.socket)
        if self.stack is None or self.closed or self.stack.closed:
            return
        try:
            _warnings.warn(f"unclosed {self!r}", ResourceWarning, source=self)
        except Exception:
            pass
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
            return "<netchan.UdpSocket (not made by a Stack)>"
        closed = self.closed or self.stack.closed
        return f"<netchan.UdpSocket {self.stack.ip}:{self.port}{' closed' if closed else ''}>"


cdef UdpSocket udp_socket_open(Stack stack, object bind, object dontfrag):
    """Bind a UDP socket of stack (Stack.udp)."""
    cdef StackState *st = stack.st
    if not isinstance(dontfrag, bool):
        raise TypeError(f"dontfrag={dontfrag!r}: expected True or False")
    if bind is None or isinstance(bind, int):
        host, port = None, bind or 0
    else:
        host, port = bind
    if host not in (None, "", "0.0.0.0", "::") and not _is_our_address(st, host):
        raise _os_error(_errno.EADDRNOTAVAIL, f"{host} is not one of this stack's addresses "
                                              f"({', '.join(_addresses(st))})")
    cdef uint32_t bind_ip = 0
    if host not in (None, "", "0.0.0.0", "::") and _ipaddress.ip_address(host).version == 4:
        bind_ip = int(_ipaddress.IPv4Address(host))
    port = int(port or 0)
    if port == 0:
        for i in range(EPHEMERAL_HI - EPHEMERAL_LO + 1):
            cand = EPHEMERAL_LO + (st.eph_next - EPHEMERAL_LO + i) % (EPHEMERAL_HI - EPHEMERAL_LO + 1)
            if st.udp_by_port[cand] < 0:
                port = cand
                break
        else:
            raise _os_error(_errno.EADDRNOTAVAIL, "no UDP port free")
    if not 1 <= port <= 65535:
        raise ValueError(f"port={port}: must be in 0..65535")
    if st.udp_by_port[port] >= 0:
        raise _os_error(_EADDRINUSE, f"UDP port {port} is in use")
    cdef int32_t uid = -1
    for i in range(st.max_udp):
        if not st.udps[i].active:
            uid = i
            break
    if uid < 0:
        raise _os_error(_errno.EMFILE, f"too many UDP sockets (max {st.max_udp})")
    cdef UdpSock *u = &st.udps[uid]
    free(u.chan)
    memset(u, 0, sizeof(UdpSock))
    u.chan = <nc_ring *>malloc(nc_ring_memsize(st.cfg.udp_chan_size))
    if u.chan == NULL:
        raise MemoryError()
    nc_ring_init(u.chan, st.cfg.udp_chan_size)
    u.port = port
    u.bind_ip = bind_ip
    u.dont_frag = dontfrag
    u.active = True
    st.udp_by_port[port] = uid
    cdef UdpSocket s = UdpSocket.__new__(UdpSocket)
    s.stack = stack
    s.uid = uid
    s.port = port
    return s
