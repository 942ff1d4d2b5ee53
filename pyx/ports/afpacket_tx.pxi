# The AF_PACKET port's send side (tx=ring: copy into tx-ring slots, one
# sendto() per burst; tx=sendmmsg: gather frames from the buffers, one
# sendmmsg() per burst) and vtable.

cdef int _ENOBUFS_AFP = _errno.ENOBUFS


cdef inline void afp_kick(AfpState *st) noexcept nogil:
    """One sendto() sends every frame marked SEND_REQUEST. MSG_DONTWAIT: do
    not wait for completions (the slots come back as the skbs are freed)."""
    cdef long rc = lpk.sendto(st.fd, NULL, 0, lpk.MSG_DONTWAIT, NULL, 0)
    st.x.tx_kicks += 1
    if rc < 0 and sysc.errno != sysc.EAGAIN and sysc.errno != _ENOBUFS_AFP and sysc.errno != sysc.EINTR:
        st.x.tx_kick_errors += 1


cdef inline void afp_tx_vnet(AfpState *st, nc_buf *nb, lpk.virtio_net_hdr *vh,
                             bint linear) noexcept nogil:
    """The virtio-net header of a frame sent on its own: a partial checksum
    when the stack left the TCP checksum to the port, else no offload.
    linear: tx=sendmmsg copies the whole frame into the skb's head (one
    allocation, where hdr_len alone would put the rest in page fragments)."""
    memset(vh, 0, AFP_VNET_LEN)
    if st.tx_csum and nb.flags & NC_BUF_F_CSUM_OK:
        afp_tx_csum_partial(nc_buf_data(nb), nb.len, vh)
    if linear:
        vh.hdr_len = <uint16_t>nb.len


cdef uint32_t afp_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil:
    """tx=ring: copy each frame into the next free slot (with TSO, runs of
    segments of one connection into one super-frame: afpacket_offload.pxi),
    free the buffers, and make one sendto() for the burst. tx=sendmmsg:
    afp_tx_burst_mmsg."""
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
    if st.tx_mmsg:
        return afp_tx_burst_mmsg(st, bufs, n)
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
            if st.vnet_len + len_ > room or nb.flags & NC_BUF_F_TX_REF:
                # (a super-frame by reference comes only with NC_CAP_TX_REF,
                # which tx=ring does not offer)
                st.x.tx_oversize += 1
                p.stats.tx_dropped += 1
                continue
            if st.vnet_len:
                afp_tx_vnet(st, nb, <lpk.virtio_net_hdr *>data, False)
                if data[0] & lpk.VIRTIO_NET_HDR_F_NEEDS_CSUM:
                    st.x.tx_csum_offloaded += 1
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


cdef uint32_t afp_mmsg_prepare(AfpState *st, const uint32_t *bufs, uint32_t n,
                               uint32_t *nmsg_out) noexcept nogil:
    """Describe the first frames of bufs as sendmmsg() messages in st.mmsg
    (at most AFP_MMSG_MAX, AFP_IOV_MAX iovecs): a super-frame is its
    virtio-net header and rewritten headers (st.mmsg_hdr) followed by every
    segment's payload, in place in the segment buffers, or by the payload
    TCP left in its send window (NC_BUF_F_TX_REF); a frame on its own
    is its virtio-net header and the buffer. Returns how many buffers they
    cover; an oversized frame first in bufs is dropped and counted (the
    caller frees it)."""
    cdef uint32_t i = 0, nmsg = 0, niov = 0, m, j, hdr, total, max_segs
    cdef uint8_t last_flags
    cdef uint8_t *scratch
    cdef nc_buf *nb
    cdef lpk.msghdr *mh
    while i < n and nmsg < AFP_MMSG_MAX and niov + 2 <= AFP_IOV_MAX:
        nb = nc_port_buf(&st.port, bufs[i])
        scratch = st.mmsg_hdr[nmsg]
        mh = &st.mmsg[nmsg].msg_hdr
        mh.msg_iov = &st.iov[niov]
        m = 0
        if nb.flags & NC_BUF_F_TX_REF:
            # TCP's super-frame: its headers here, its payload in the send
            # window (gathered now: packet_snd copies it during the call)
            afp_tx_ref_headers(scratch, nb)
            st.iov[niov].iov_base = scratch
            st.iov[niov].iov_len = AFP_VNET_LEN + nb.len
            st.iov[niov + 1].iov_base = <void *><size_t>nb.user[0]
            st.iov[niov + 1].iov_len = <size_t>nb.user[1]
            niov += 2
            mh.msg_iovlen = 2
            m = 1
        elif st.tso:
            max_segs = AFP_IOV_MAX - niov - 1
            m = afp_tso_run(st, bufs + i, n - i if n - i < max_segs else max_segs,
                            AFP_TSO_SLOT, &hdr, &total, &last_flags)
            if m:
                memcpy(scratch + AFP_VNET_LEN, nc_buf_data(nb), hdr)
                afp_tso_headers(scratch, hdr, total, nb.len - hdr, last_flags)
                st.iov[niov].iov_base = scratch
                st.iov[niov].iov_len = AFP_VNET_LEN + hdr
                niov += 1
                for j in range(i, i + m):
                    nb = nc_port_buf(&st.port, bufs[j])
                    st.iov[niov].iov_base = nc_buf_data(nb) + hdr
                    st.iov[niov].iov_len = nb.len - hdr
                    niov += 1
                mh.msg_iovlen = m + 1
        if m == 0:
            if nb.len > ETH_HLEN + st.port.mtu:
                if nmsg:
                    break               # send what is ready; dropped first next time
                st.x.tx_oversize += 1
                st.port.stats.tx_dropped += 1
                i += 1
                nmsg_out[0] = 0
                return i
            afp_tx_vnet(st, nb, <lpk.virtio_net_hdr *>scratch, True)
            st.iov[niov].iov_base = scratch
            st.iov[niov].iov_len = AFP_VNET_LEN
            st.iov[niov + 1].iov_base = nc_buf_data(nb)
            st.iov[niov + 1].iov_len = nb.len
            niov += 2
            mh.msg_iovlen = 2
            m = 1
        mh.msg_name = NULL
        mh.msg_namelen = 0
        mh.msg_control = NULL
        mh.msg_controllen = 0
        mh.msg_flags = 0
        st.mmsg_bufs[nmsg] = m
        nmsg += 1
        i += m
    nmsg_out[0] = nmsg
    return i


cdef uint32_t afp_tx_burst_mmsg(AfpState *st, uint32_t *bufs, uint32_t n) noexcept nogil:
    """tx=sendmmsg: one sendmmsg() per AFP_MMSG_MAX frames, each gathered
    from the stack's buffers (packet_snd copies it once into an skb the
    kernel owns: no tx-ring slot to copy into first, and no user pages
    for the kernel to copy again when the frame crosses into the peer's
    namespace). The buffers of the frames sent are freed after the call;
    when the kernel takes only part (EAGAIN/ENOBUFS: its send buffer is
    full), the rest stay with the caller (tx_burst's contract)."""
    cdef uint32_t taken = 0, covered, nmsg, sent, i, j, b, segs
    cdef int rc
    cdef nc_buf *nb
    while taken < n:
        covered = afp_mmsg_prepare(st, bufs + taken, n - taken, &nmsg)
        if nmsg == 0:                   # an oversized frame, dropped
            afp_free_bufs(st, bufs + taken, covered)
            taken += covered
            continue
        rc = lpk.sendmmsg(st.fd, st.mmsg, nmsg, lpk.MSG_DONTWAIT)
        st.x.tx_kicks += 1
        if rc < 0:
            if sysc.errno == sysc.EAGAIN or sysc.errno == _ENOBUFS_AFP or sysc.errno == sysc.EINTR:
                st.x.tx_busy += 1
                break
            # the first message cannot go (the kernel refused it): drop it
            st.x.tx_kick_errors += 1
            st.port.stats.tx_dropped += st.mmsg_bufs[0]
            afp_free_bufs(st, bufs + taken, st.mmsg_bufs[0])
            taken += st.mmsg_bufs[0]
            continue
        sent = <uint32_t>rc
        b = 0
        for i in range(sent):
            nb = nc_port_buf(&st.port, bufs[taken + b])
            if nb.flags & NC_BUF_F_TX_REF:
                segs = afp_tx_ref_segments(nb)
                st.x.tx_tso_frames += 1
                st.x.tx_tso_segments += segs
                st.port.stats.tx_packets += segs
                st.port.stats.tx_bytes += nc_buf_frame_bytes(nb)
                b += 1
                continue
            if st.mmsg_bufs[i] > 1:
                st.x.tx_tso_frames += 1
                st.x.tx_tso_segments += st.mmsg_bufs[i]
            elif st.mmsg_hdr[i][0] & lpk.VIRTIO_NET_HDR_F_NEEDS_CSUM:
                st.x.tx_csum_offloaded += 1
            for j in range(st.mmsg_bufs[i]):
                nb = nc_port_buf(&st.port, bufs[taken + b + j])
                st.port.stats.tx_bytes += nb.len
            st.port.stats.tx_packets += st.mmsg_bufs[i]
            b += st.mmsg_bufs[i]
        afp_free_bufs(st, bufs + taken, b)
        taken += b
        if sent < nmsg:
            st.x.tx_busy += 1
            break
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


