# WindowExport: the buffer-protocol object behind every memoryview of a
# window. Exports are counted on the window's arena slot, so the slot is not
# recycled while a view lives, and a receive view pins the bytes it shows; a
# send view is counted on its connection, which refuses to queue bytes
# (commit, send, sendall) while one lives, so no view reaches bytes in flight.

cdef class WindowExport:
    """The exporter behind a memoryview of a connection's window. Counts
    itself on the window's arena slot so the memory is not reused while the
    view lives; a receive view also pins its bytes against new data; a send
    view holds off commit() until it is released."""

    def __init__(self, *args, **kwargs):
        raise TypeError("window views come from Connection.recv_view() and send_view()")

    def __getbuffer__(self, Py_buffer *buf, int flags):
        if self.conn is None:
            raise BufferError("not a view of a connection's window")
        if self.exported:
            raise BufferError("a window export backs exactly one memoryview")
        if self.receive and (flags & PyBUF_WRITABLE):
            raise BufferError("a receive window view is read-only")
        buf.buf = self.ptr
        buf.obj = self
        buf.len = self.size
        buf.readonly = 1 if self.receive else 0
        buf.itemsize = 1
        buf.format = "B"
        buf.ndim = 1
        self.shape[0] = self.size
        self.strides[0] = 1
        buf.shape = self.shape
        buf.strides = self.strides
        buf.suboffsets = NULL
        buf.internal = NULL
        self.conn._count_export(self, 1)
        self.exported = True
        if self.receive:
            self.conn._pin(self.off)
        else:
            self.conn.snd_exports += 1

    def __releasebuffer__(self, Py_buffer *buf):
        if not self.exported:
            return
        self.exported = False
        self.conn._count_export(self, -1)
        if self.receive:
            self.conn._unpin(self.off)
        else:
            self.conn.snd_exports -= 1


cdef str window_refusal_reason(const Arena *a):
    """Why the arena last refused a slot, and what to change."""
    if a.last_refusal == ARENA_REFUSED_LIMIT:
        return (f"window_memory={a.limit} bytes are attached already: raise window_memory "
                f"or close connections")
    if a.last_refusal == ARENA_REFUSED_SLOTS:
        return f"all {a.max_slots} window slots are attached: raise max_conns"
    if a.last_refusal == ARENA_REFUSED_MAP_BUDGET:
        return (f"{arena_maps_in_process()} window slots are mapped in this process, its "
                f"share of vm.max_map_count ({arena_map_budget()} slots): fewer windows may "
                f"hold bytes at once; as root, raise it (sysctl -w vm.max_map_count=N)")
    return f"mapping a window slot failed ({a.slot_size} B): memory or vm.max_map_count"


cdef int _stack_share_windows(Port port, StackState *st) except -1:
    """On a shm (or pair) link end that shares windows (windows=shared), let
    the peer read our send windows in place and read its own likewise
    (iface/shared_windows.pxi). A failure only means every payload is
    copied, as with windows=copy."""
    cdef WindowBoard *me
    cdef WindowBoard *peer
    if port._window_boards(&me, &peer):
        stack_windows_share(st, me, peer)
    return 0
