# Frame output: buffer allocation and the transmit batch. Everything the
# stack sends goes through tx_enqueue, which batches frames and hands them to
# the port in bursts (tx_flush at the end of every poll, or when full).

cdef int _EMSGSIZE = _errno.EMSGSIZE
cdef int _ENOBUFS = _errno.ENOBUFS
cdef uint8_t BROADCAST_MAC[6]


memset(BROADCAST_MAC, 0xff, 6)


cdef uint8_t ZERO_MAC[6]


memset(ZERO_MAC, 0, 6)


cdef inline uint32_t tx_alloc(StackState *st) noexcept nogil:
    cdef uint32_t b
    if st.port.ops.alloc_burst(st.port, &b, 1) != 1:
        st.ctr[C_TX_ALLOC_FAILED] += 1
        return NC_BUF_NONE
    return b


cdef void tx_flush(StackState *st) noexcept nogil:
    cdef uint32_t sent
    if st.txq_len == 0:
        return
    sent = st.port.ops.tx_burst(st.port, st.txq, st.txq_len, st.now)
    if sent < st.txq_len:
        st.port.ops.free_burst(st.port, st.txq + sent, st.txq_len - sent)
        st.ctr[C_TX_PORT_REFUSED] += st.txq_len - sent
    st.progress += st.txq_len
    st.txq_len = 0
    st.txq_refs = 0


cdef inline void tx_flush_refs(StackState *st) noexcept nogil:
    """Send what the batch holds if any frame in it points into a send
    window (NC_BUF_F_TX_REF): before that window is given back, its bytes
    must have gone out (the port is done with them when tx_burst returns)."""
    if st.txq_refs:
        tx_flush(st)


cdef inline void tx_enqueue(StackState *st, uint32_t b) noexcept nogil:
    cdef nc_buf *nb = nc_port_buf(st.port, b)
    st.ctr[C_TX_FRAMES] += 1
    st.ctr[C_TX_BYTES] += nc_buf_frame_bytes(nb)
    # (a frame with NC_BUF_F_PAYLOAD_REF needs no flush before its window
    # goes: the shm peer refuses a slot let go since, mem/peer_windows.pxi)
    if nb.flags & NC_BUF_F_TX_REF:
        st.txq_refs += 1
    st.txq[st.txq_len] = b
    st.txq_len += 1
    if st.txq_len == TXQ_MAX:
        tx_flush(st)
