# The AF_PACKET port's receive side: the rx ring, in one of two layouts.
#
#   ring=v2  (default) TPACKET_V2: a ring of fixed frames, each with its own
#            status word. The kernel flips a frame to user as soon as it has
#            written it and wakes the socket (poll/ppoll): a frame reaches
#            the stack the moment it arrives, with no timer on the way.
#   ring=v3  TPACKET_V3: a ring of blocks the kernel hands over whole, when
#            full or when the retire timeout (block_timeout=, >= 1 ms)
#            passes. Packs small frames densely, but every small exchange on
#            an idle link waits for the timer.
#
# Either way rx_burst copies each frame into a buffer of the port's OWN pool
# (nc_pool + nc_freestack, as the link ports lay out) and gives the frame (or
# block) back as soon as it is copied: the kernel's ring never waits on the
# stack's channels. The exception: a TCP super-frame on the v2 ring goes to
# the stack in its ring frame (rx_zc, afpacket_offload.pxi), which returns to
# the kernel when the stack frees it (within the poll, after TCP copied it).

cdef uint32_t afp_alloc_one(AfpState *st) noexcept nogil:
    cdef uint32_t b
    if nc_pool_alloc_burst(&st.port.pools[0], st.fs, &b, 1, 0) != 1:
        st.x.rx_no_buffer += 1
        return NC_BUF_NONE
    return b


cdef void afp_zc_release(AfpState *st, const uint32_t *bufs, uint32_t n) noexcept nogil:
    """Ring frames the stack had in place go back to the kernel."""
    cdef uint32_t i, slot
    cdef nc_buf *nb
    if st.ring == NULL:
        return                  # the port is closed: the ring (and the frames) are gone
    for i in range(n):
        slot = bufs[i] & NC_BUF_SLOT_MASK
        nb = nc_port_buf(&st.port, bufs[i])
        if slot >= st.rx_frame_nr or nb.flags & NC_BUF_F_FREE:
            st.port.stats.double_free += 1
            continue
        nb.flags = NC_BUF_F_FREE
        st.zc_held -= 1
        # release: the stack's reads of the frame are done before the kernel
        # may write it again
        nc_store_release_u32(&afp_frame_v2(st, slot).tp_status, lpk.TP_STATUS_KERNEL)


cdef void afp_free_bufs(AfpState *st, const uint32_t *bufs, uint32_t n) noexcept nogil:
    """Give buffers back to the pool each came from (bit 31: a GRO buffer),
    a run of one pool at a time."""
    cdef uint32_t i = 0, j
    while i < n:
        j = i + 1
        while j < n and (bufs[j] ^ bufs[i]) & NC_BUF_POOL_BIT == 0:
            j += 1
        if bufs[i] & NC_BUF_POOL_BIT and st.rx_zc:
            afp_zc_release(st, bufs + i, j - i)
        elif bufs[i] & NC_BUF_POOL_BIT and st.gro_fs != NULL:
            st.port.stats.double_free += nc_pool_free_burst(&st.port.pools[1], st.gro_fs,
                                                            bufs + i, j - i)
        elif bufs[i] & NC_BUF_POOL_BIT:
            st.port.stats.double_free += j - i      # no such pool: not ours
        else:
            st.port.stats.double_free += nc_pool_free_burst(&st.port.pools[0], st.fs,
                                                            bufs + i, j - i)
        i = j


cdef void afp_deliver(AfpState *st, uint32_t b, uint32_t *bufs, uint32_t *k,
                      uint64_t now) noexcept nogil:
    cdef nc_buf *nb = nc_port_buf(&st.port, b)
    nb.stamp = now
    st.port.stats.rx_packets += 1
    st.port.stats.rx_bytes += nb.len
    bufs[k[0]] = b
    k[0] += 1


cdef inline void afp_count_csum(AfpState *st, bint partial, bint valid) noexcept nogil:
    if partial:
        st.x.rx_csum_partial += 1
    elif valid:
        st.x.rx_csum_valid += 1


cdef inline lpk.tpacket_block_desc *afp_block(AfpState *st, uint32_t i) noexcept nogil:
    return <lpk.tpacket_block_desc *>(st.ring + <size_t>i * st.rx_block_size)


cdef inline lpk.tpacket2_hdr *afp_frame_v2(AfpState *st, uint32_t i) noexcept nogil:
    # the kernel's packet_lookup_frame: frames never straddle a block
    return <lpk.tpacket2_hdr *>(st.ring + <size_t>(i // st.rx_fpb) * st.rx_block_size
                                + <size_t>(i % st.rx_fpb) * st.rx_frame_size)


cdef int afp_rx_frame(AfpState *st, uint8_t *data, uint32_t snap, uint32_t len_,
                      uint32_t status, uint32_t *bufs, uint32_t *k, uint32_t n,
                      uint64_t now) noexcept nogil:
    """Take one frame of the ring (data: its Ethernet header; the virtio-net
    header, if any, just before). Returns 1 when done with it (delivered or
    dropped), 0 when it must wait for the next call."""
    cdef lpk.virtio_net_hdr *vh
    cdef uint8_t gso_type = lpk.VIRTIO_NET_HDR_GSO_NONE
    cdef uint32_t gso_size = 0
    cdef bint partial, valid
    cdef uint32_t b
    cdef int whole
    cdef nc_buf *nb
    if snap < len_:
        st.x.rx_truncated += 1
        return 1
    if st.vnet_len:
        vh = <lpk.virtio_net_hdr *>(data - AFP_VNET_LEN)
        partial = (vh.flags & lpk.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0
        valid = (vh.flags & lpk.VIRTIO_NET_HDR_F_DATA_VALID) != 0
        gso_type = vh.gso_type & ~lpk.VIRTIO_NET_HDR_GSO_ECN
        gso_size = vh.gso_size
        # a header that contradicts its frame is not trusted for anything
        # (the kernel writes these; a bad one means a bug we must not build on)
        if (partial and <uint32_t>vh.csum_start + vh.csum_offset + 2 > snap) or \
                (gso_type != lpk.VIRTIO_NET_HDR_GSO_NONE and
                 (gso_size == 0 or vh.hdr_len > snap)):
            st.x.rx_vnet_bad += 1
            return 1
    else:
        partial = (status & lpk.TP_STATUS_CSUMNOTREADY) != 0
        valid = (status & lpk.TP_STATUS_CSUM_VALID) != 0
    if gso_type != lpk.VIRTIO_NET_HDR_GSO_NONE:
        if st.gso_off == 0 and (st.gro_fs != NULL or st.rx_zc) and (gso_type == lpk.VIRTIO_NET_HDR_GSO_TCPV4
                                                      or gso_type == lpk.VIRTIO_NET_HDR_GSO_TCPV6):
            # a TCP super-frame goes to the stack whole when a GRO buffer is
            # free (-1: cut it as below)
            whole = afp_rx_whole(st, data, snap, gso_type, partial or valid, bufs, k, n, now)
            if whole == 1:
                afp_count_csum(st, partial, valid)
            if whole >= 0:
                return 1 if whole else 0
        if st.gso_off == 0 and k[0] < n and st.fs.count:
            afp_count_csum(st, partial, valid)      # once, even if it takes two calls
        return afp_rx_gso(st, data, snap, gso_type, gso_size, partial or valid, bufs, k, n, now)
    if snap > st.port.pools[0].data_room:
        st.x.rx_oversize += 1
        return 1
    b = afp_alloc_one(st)
    if b == NC_BUF_NONE:
        return 0
    nb = nc_port_buf(&st.port, b)
    memcpy(nc_buf_data(nb), data, snap)
    nb.len = snap
    nb.flags = NC_BUF_F_CSUM_OK if (partial or valid) else 0
    afp_count_csum(st, partial, valid)
    afp_deliver(st, b, bufs, k, now)
    return 1


cdef inline bint afp_zc_in_use(AfpState *st, uint32_t i) noexcept nogil:
    """Is ring frame i still with the stack (handed over in place)? Then
    the ring has come round to it: nothing after it is new."""
    return st.rx_zc and not (nc_pool_buf(&st.port.pools[1], i).flags & NC_BUF_F_FREE)


cdef uint32_t afp_rx_burst_v2(AfpState *st, uint32_t *bufs, uint32_t n,
                              uint64_t now) noexcept nogil:
    cdef lpk.tpacket2_hdr *h
    cdef uint32_t k = 0, status
    while k < n:
        h = afp_frame_v2(st, st.rx_cur)
        # acquire: the frame is written before the kernel flips its status
        status = nc_load_acquire_u32(&h.tp_status)
        if not (status & lpk.TP_STATUS_USER) or afp_zc_in_use(st, st.rx_cur):
            break
        st.rx_zc_frame = st.rx_cur if st.rx_zc else NC_BUF_NONE
        st.rx_zc_kept = False
        if not afp_rx_frame(st, <uint8_t *>h + h.tp_mac, h.tp_snaplen, h.tp_len, status,
                            bufs, &k, n, now):
            break
        st.gso_off = 0
        if not st.rx_zc_kept:
            # release: our reads of the frame are done before the kernel may reuse it
            nc_store_release_u32(&h.tp_status, lpk.TP_STATUS_KERNEL)
        st.rx_cur += 1
        if st.rx_cur == st.rx_frame_nr:
            st.rx_cur = 0
    return k


cdef uint32_t afp_rx_burst_v3(AfpState *st, uint32_t *bufs, uint32_t n,
                              uint64_t now) noexcept nogil:
    cdef lpk.tpacket_block_desc *bd
    cdef lpk.tpacket3_hdr *h
    cdef uint32_t k = 0
    while k < n:
        if st.rx_bd == NULL:
            bd = afp_block(st, st.rx_cur)
            # acquire: the frames are written before the kernel flips the status
            if not (nc_load_acquire_u32(&bd.hdr.bh1.block_status) & lpk.TP_STATUS_USER):
                break
            st.rx_bd = bd
            st.rx_pkt = <uint8_t *>bd + bd.hdr.bh1.offset_to_first_pkt
            st.rx_left = bd.hdr.bh1.num_pkts
            st.gso_off = 0
            st.x.rx_blocks += 1
        while st.rx_left and k < n:
            h = <lpk.tpacket3_hdr *>st.rx_pkt
            if not afp_rx_frame(st, <uint8_t *>h + h.tp_mac, h.tp_snaplen, h.tp_len,
                                h.tp_status, bufs, &k, n, now):
                return k
            st.rx_pkt += h.tp_next_offset
            st.rx_left -= 1
            st.gso_off = 0
        if st.rx_left == 0:
            # release: our reads of the block are done before the kernel may
            # write it again
            nc_store_release_u32(&st.rx_bd.hdr.bh1.block_status, lpk.TP_STATUS_KERNEL)
            st.rx_bd = NULL
            st.rx_cur += 1
            if st.rx_cur == st.rx_block_nr:
                st.rx_cur = 0
    return k


cdef uint32_t afp_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    cdef AfpState *st = <AfpState *>p
    if st.version == 2:
        return afp_rx_burst_v2(st, bufs, n, now)
    return afp_rx_burst_v3(st, bufs, n, now)


cdef bint afp_rx_ready(AfpState *st) noexcept nogil:
    """A frame waits in the ring (or a block is being read): poll, do not sleep."""
    if st.version == 2:
        return (nc_load_acquire_u32(&afp_frame_v2(st, st.rx_cur).tp_status)
                & lpk.TP_STATUS_USER) != 0 and not afp_zc_in_use(st, st.rx_cur)
    if st.rx_bd != NULL:
        return True
    return (nc_load_acquire_u32(&afp_block(st, st.rx_cur).hdr.bh1.block_status)
            & lpk.TP_STATUS_USER) != 0


cdef void afp_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil:
    """Sleep on the packet socket: V2 wakes it per frame, V3 per block."""
    cdef AfpState *st = <AfpState *>p
    cdef lpk.pollfd pfd
    cdef lpk.timespec ts
    if timeout_ns == 0 or st.fd < 0 or afp_rx_ready(st):
        return
    pfd.fd = st.fd
    pfd.events = lpk.POLLIN
    pfd.revents = 0
    ts.tv_sec = <long>(timeout_ns // 1000000000ULL)
    ts.tv_nsec = <long>(timeout_ns % 1000000000ULL)
    lpk.ppoll(&pfd, 1, &ts, NULL)
