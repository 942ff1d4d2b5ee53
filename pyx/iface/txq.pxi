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


cdef inline void tx_enqueue(StackState *st, uint32_t b) noexcept nogil:
    st.ctr[C_TX_FRAMES] += 1
    st.ctr[C_TX_BYTES] += nc_port_buf(st.port, b).len
    st.txq[st.txq_len] = b
    st.txq_len += 1
    if st.txq_len == TXQ_MAX:
        tx_flush(st)
