# The AF_PACKET port's send side and vtable.

cdef int _ENOBUFS_AFP = _errno.ENOBUFS


cdef inline void afp_kick(AfpState *st) noexcept nogil:
    """One sendto() sends every frame marked SEND_REQUEST. MSG_DONTWAIT: do
    not wait for completions (the slots come back as the skbs are freed)."""
    cdef long rc = lpk.sendto(st.fd, NULL, 0, lpk.MSG_DONTWAIT, NULL, 0)
    st.x.tx_kicks += 1
    if rc < 0 and sysc.errno != sysc.EAGAIN and sysc.errno != _ENOBUFS_AFP and sysc.errno != sysc.EINTR:
        st.x.tx_kick_errors += 1


cdef uint32_t afp_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    """Copy each frame into the next free slot (with TSO, runs of segments
    of one connection into one super-frame: afpacket_offload.pxi), free the
    buffers, and make one sendto() for the burst."""
    cdef AfpState *st = <AfpState *>p
    cdef lpk.tpacket2_hdr *h2
    cdef lpk.tpacket3_hdr *h3
    cdef uint32_t *status_word
    cdef uint8_t *slot
    cdef uint8_t *data
    cdef uint32_t taken = 0, status, len_, m, i
    cdef uint32_t room = st.tx_frame_size - st.tx_data_off
    cdef nc_buf *nb
    cdef bint full = False
    while taken < n:
        slot = st.tx_base + <size_t>st.tx_head * st.tx_frame_size
        h2 = <lpk.tpacket2_hdr *>slot
        h3 = <lpk.tpacket3_hdr *>slot
        status_word = &h2.tp_status if st.version == 2 else &h3.tp_status
        # acquire: the kernel is done with the slot's bytes when it says AVAILABLE
        status = nc_load_acquire_u32(status_word)
        if status & (lpk.TP_STATUS_SEND_REQUEST | lpk.TP_STATUS_SENDING):
            st.x.tx_ring_full += 1
            full = True
            break
        data = slot + st.tx_data_off
        m = afp_tso_merge(st, bufs + taken, n - taken, data, room, &len_) if st.tso else 0
        if m:
            for i in range(taken, taken + m):
                p.stats.tx_bytes += nc_port_buf(p, bufs[i]).len
            p.stats.tx_packets += m
            taken += m
        else:
            nb = nc_port_buf(p, bufs[taken])
            len_ = nb.len
            taken += 1
            if st.vnet_len + len_ > room:
                st.x.tx_oversize += 1
                p.stats.tx_dropped += 1
                continue
            if st.vnet_len:
                memset(data, 0, AFP_VNET_LEN)       # no offload asked
            memcpy(data + st.vnet_len, nc_buf_data(nb), len_)
            p.stats.tx_packets += 1
            p.stats.tx_bytes += len_
        if st.version == 2:
            h2.tp_len = st.vnet_len + len_
        else:
            h3.tp_len = st.vnet_len + len_
            h3.tp_next_offset = 0
        # release: the frame is complete before the kernel may read it
        nc_store_release_u32(status_word, lpk.TP_STATUS_SEND_REQUEST)
        st.tx_head += 1
        if st.tx_head == st.tx_frame_nr:
            st.tx_head = 0
    # the frames are copied (or dropped): their buffers go back now
    if taken:
        afp_free_bufs(st, bufs, taken)
    if taken or full:
        afp_kick(st)
    return taken


cdef uint32_t afp_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef uint32_t k = nc_pool_alloc_burst(&p.pools[0], st.fs, bufs, n, 0)
    if k < n:
        p.stats.alloc_failed += n - k
    return k


cdef void afp_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil:
    afp_free_bufs(<AfpState *>p, bufs, n)


cdef uint64_t afp_next_deadline(nc_port *p) noexcept nogil:
    return <uint64_t>-1


cdef int afp_if_flags(AfpState *st) noexcept nogil:
    """The interface's IFF_* flags, or 0 if they cannot be read."""
    cdef lpk.ifreq ifr
    memset(&ifr, 0, sizeof(ifr))
    memcpy(ifr.ifr_name, st.ifname, 16)
    if st.fd < 0 or lpk.ioctl(st.fd, lpk.SIOCGIFFLAGS, &ifr) < 0:
        return 0
    return <uint16_t>ifr.ifr_flags


cdef int afp_link_up(nc_port *p) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    cdef int want = lpk.IFF_UP | lpk.IFF_RUNNING
    return (afp_if_flags(st) & want) == want


cdef void afp_close(nc_port *p) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    if st.ring != NULL:
        sysc.munmap(st.ring, st.ring_size)
        st.ring = NULL
    if st.fd >= 0:
        sysc.close(st.fd)
        st.fd = -1


cdef nc_port_ops AFP_OPS


AFP_OPS.rx_burst = afp_rx_burst


AFP_OPS.tx_burst = afp_tx_burst


AFP_OPS.alloc_burst = afp_alloc_burst


AFP_OPS.free_burst = afp_free_burst


AFP_OPS.next_deadline = afp_next_deadline


AFP_OPS.wait = afp_wait


AFP_OPS.link_up = afp_link_up


AFP_OPS.close = afp_close


