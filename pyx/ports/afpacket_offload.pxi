# The AF_PACKET port's offloads, both directions (see the top of afpacket.pxi):
#   receive  a TCP super-frame from a peer with TSO/GSO on goes to the stack
#            whole, in a 64 KiB GRO buffer (afp_rx_whole): one segment, one
#            sequence check, one copy into the window, one ACK. When no GRO
#            buffer is free (or gro_bufs=0), and for UDP GSO, the super-frame
#            is cut into the MTU-sized segments the wire would have carried
#            (afp_rx_gso);
#   send     consecutive full-sized segments of one TCP connection in a tx
#            burst are merged into one super-frame with a virtio-net header
#            asking for segmentation (gso_type TCPV4, gso_size = their
#            payload) and a partial checksum (afp_tso_merge). The kernel (or
#            the peer on a veth) then moves up to 64 KiB per frame, as it
#            does for its own TCP. The merge is exact, so what the peer sees
#            segment by segment is what netchan built. With tx=sendmmsg the
#            port also offers NC_CAP_TX_REF: TCP then hands such super-frames
#            itself, headers in the buffer and the payload left in its send
#            window (afp_tx_ref_headers; gathered in afp_mmsg_prepare).

cdef int afp_rx_whole(AfpState *st, uint8_t *data, uint32_t snap, uint8_t gso_type,
                      bint trusted, uint32_t *bufs, uint32_t *k, uint32_t n,
                      uint64_t now) noexcept nogil:
    """Hand a TCP super-frame (IPv4 or IPv6, no extension headers) to the
    stack whole, in its own v2 ring frame (rx_zc: no copy) or in one GRO
    buffer: one segment of up to 64 KiB, so TCP
    checks its sequence once, copies it into the window once and ACKs it
    once, as Linux does with a GRO aggregate. The IP header is the
    super-frame's own (the sender's stack wrote its length and checksum for
    the whole). Returns 1 delivered, 0 no room in bufs (call again), -1 not
    for this path (cut it into segments instead)."""
    cdef uint8_t *ip = data + ETH_HLEN
    cdef uint32_t b, tot
    cdef nc_buf *nb
    if k[0] >= n:
        return 0
    if snap > st.port.pools[1].data_room or snap < ETH_HLEN + IPV6_HLEN + TCP_HLEN:
        return -1
    if gso_type == lpk.VIRTIO_NET_HDR_GSO_TCPV4:
        if rd16(data + 12) != ETH_P_IPV4 or (ip[0] >> 4) != 4 or ip[9] != IP_PROTO_TCP:
            return -1
        tot = rd16(ip + 2)
    else:
        if rd16(data + 12) != ETH_P_IPV6 or (ip[0] >> 4) != 6 or ip[6] != IP_PROTO_TCP:
            return -1
        tot = IPV6_HLEN + rd16(ip + 4)
    if ETH_HLEN + tot != snap:
        return -1                       # e.g. a BIG TCP frame (IPv4 length 0)
    if st.rx_zc:
        if st.rx_zc_frame == NC_BUF_NONE or \
                data != <uint8_t *>afp_frame_v2(st, st.rx_zc_frame) + AFP_ZC_MAC_OFF:
            return -1                   # not in a ring frame, or a MAC header of another length
        b = NC_BUF_POOL_BIT | st.rx_zc_frame
        nb = nc_port_buf(&st.port, b)
        nb.data_off = AFP_ZC_MAC_OFF - AFP_ZC_HDR_OFF
        nb.len = snap
        nb.flags = NC_BUF_F_CSUM_OK if trusted else 0
        nb.next = NC_BUF_NONE
        st.rx_zc_kept = True
        st.zc_held += 1
        st.x.rx_gro_superframes += 1
        afp_deliver(st, b, bufs, k, now)
        return 1
    if nc_pool_alloc_burst(&st.port.pools[1], st.gro_fs, &b, 1, NC_BUF_POOL_BIT) != 1:
        st.x.rx_gro_no_buffer += 1
        return -1
    nb = nc_port_buf(&st.port, b)
    memcpy(nc_buf_data(nb), data, snap)
    nb.len = snap
    # not vouched for: the stack checks the whole segment's checksum
    nb.flags = NC_BUF_F_CSUM_OK if trusted else 0
    st.x.rx_gro_superframes += 1
    afp_deliver(st, b, bufs, k, now)
    return 1


cdef int afp_rx_gso(AfpState *st, uint8_t *data, uint32_t snap, uint8_t gso_type,
                    uint32_t mss, bint trusted, uint32_t *bufs, uint32_t *k, uint32_t n,
                    uint64_t now) noexcept nogil:
    """Cut one super-frame into segments of mss payload bytes. Returns 1 when
    the frame is done (segmented or dropped), 0 when out of room or buffers:
    st.gso_off remembers where to go on."""
    cdef uint8_t *ip = data + ETH_HLEN
    cdef uint32_t ihl, tot, l4hl, hdr, payload, chunk, seg
    cdef uint8_t proto
    cdef uint8_t *l4
    cdef uint32_t b, seq
    cdef uint16_t ident
    cdef nc_buf *nb
    cdef uint8_t *p
    cdef uint8_t *pip
    cdef uint8_t *pl4
    cdef bint last
    # IPv6 (gso_type TCPV6): the fixed header and TCP right after it (a
    # super-frame with extension headers is not cut: counted unsupported)
    cdef bint v6 = snap >= ETH_HLEN + IPV6_HLEN and rd16(data + 12) == ETH_P_IPV6 and \
        (ip[0] >> 4) == 6 and ip[6] == IP_PROTO_TCP and gso_type == lpk.VIRTIO_NET_HDR_GSO_TCPV6
    if not v6 and (snap < ETH_HLEN + IPV4_HLEN or rd16(data + 12) != ETH_P_IPV4 or
                   (ip[0] >> 4) != 4):
        st.x.rx_gso_unsupported += 1
        return 1
    if v6:
        ihl = IPV6_HLEN
        tot = IPV6_HLEN + rd16(ip + 4)
        proto = IP_PROTO_TCP
    else:
        ihl = (ip[0] & 0x0f) * 4
        tot = rd16(ip + 2)
        proto = ip[9]
    if ihl < IPV4_HLEN or tot < ihl or ETH_HLEN + tot > snap:
        st.x.rx_gso_bad += 1
        return 1
    l4 = ip + ihl
    if v6:
        if tot < ihl + TCP_HLEN:
            st.x.rx_gso_bad += 1
            return 1
        l4hl = (l4[12] >> 4) * 4
    elif proto == IP_PROTO_TCP and gso_type == lpk.VIRTIO_NET_HDR_GSO_TCPV4:
        if tot < ihl + TCP_HLEN:
            st.x.rx_gso_bad += 1
            return 1
        l4hl = (l4[12] >> 4) * 4
    elif proto == IP_PROTO_UDP and gso_type == AFP_GSO_UDP_L4:
        l4hl = UDP_HLEN
    else:
        st.x.rx_gso_unsupported += 1
        return 1
    if l4hl < (TCP_HLEN if proto == IP_PROTO_TCP else UDP_HLEN) or ihl + l4hl > tot or mss == 0:
        st.x.rx_gso_bad += 1
        return 1
    hdr = ETH_HLEN + ihl + l4hl
    payload = ETH_HLEN + tot - hdr
    if hdr + (mss if mss < payload else payload) > st.port.pools[0].data_room:
        st.x.rx_oversize += 1
        return 1
    if st.gso_off == 0 and not trusted:
        # nobody vouched for it: check the whole L4 checksum once here, then
        # its segments are as good as verified
        if nc_csum_fold(nc_csum_partial(l4, tot - ihl,
                nc_csum_pseudo_ipv6(ip + 8, proto, tot - ihl) if v6 else
                nc_csum_pseudo_ipv4(ip + 12, proto, <uint16_t>(tot - ihl)))) != 0:
            st.x.rx_gso_bad += 1
            return 1
    ident = 0 if v6 else rd16(ip + 4)
    seq = rd32(l4 + 4) if proto == IP_PROTO_TCP else 0
    while st.gso_off < payload:
        if k[0] >= n:
            return 0
        b = afp_alloc_one(st)
        if b == NC_BUF_NONE:
            return 0
        seg = st.gso_off // mss
        chunk = payload - st.gso_off
        if chunk > mss:
            chunk = mss
        last = st.gso_off + chunk == payload
        nb = nc_port_buf(&st.port, b)
        p = nc_buf_data(nb)
        memcpy(p, data, hdr)
        memcpy(p + hdr, data + hdr + st.gso_off, chunk)
        nb.len = hdr + chunk
        nb.flags = NC_BUF_F_CSUM_OK
        pip = p + ETH_HLEN
        pl4 = pip + ihl
        if v6:
            wr16(pip + 4, <uint16_t>(l4hl + chunk))
        else:
            wr16(pip + 2, <uint16_t>(ihl + l4hl + chunk))
            wr16(pip + 4, <uint16_t>(ident + seg))
            pip[10] = 0
            pip[11] = 0
            store_csum(pip + 10, nc_csum_fold(nc_csum_partial(pip, ihl, 0)))
        if proto == IP_PROTO_TCP:
            # as tcp_gso_segment: CWR on the first segment only, FIN and PSH
            # on the last only
            wr32(pl4 + 4, seq + st.gso_off)
            if seg:
                pl4[13] &= ~TCP_CWR
            if not last:
                pl4[13] &= ~(TCP_FIN | TCP_PSH)
        else:
            wr16(pl4 + 4, <uint16_t>(UDP_HLEN + chunk))
        st.gso_off += chunk
        st.x.rx_gso_segments += 1
        if seg == 0:
            st.x.rx_gso_frames += 1
        afp_deliver(st, b, bufs, k, now)
    return 1



cdef inline bint afp_tcp_frame(const uint8_t *f, uint32_t len_, uint32_t *hdr) noexcept nogil:
    """True for an IPv4 or IPv6 TCP frame that TSO or checksum offload may
    carry (no fragment or extension header, no Ethernet padding, headers
    inside the frame). hdr: its Ethernet + IP + TCP header length."""
    cdef uint32_t ihl, tot, thl
    if len_ >= ETH_HLEN + IPV6_HLEN + TCP_HLEN and rd16(f + 12) == ETH_P_IPV6:
        if (f[ETH_HLEN] >> 4) != 6 or f[ETH_HLEN + 6] != IP_PROTO_TCP:
            return False
        ihl = IPV6_HLEN
        tot = IPV6_HLEN + rd16(f + ETH_HLEN + 4)
        if ETH_HLEN + tot != len_:
            return False
    else:
        if len_ < ETH_HLEN + IPV4_HLEN + TCP_HLEN or rd16(f + 12) != ETH_P_IPV4:
            return False
        if (f[ETH_HLEN] >> 4) != 4 or f[ETH_HLEN + 9] != IP_PROTO_TCP:
            return False
        ihl = (f[ETH_HLEN] & 0x0f) * 4
        tot = rd16(f + ETH_HLEN + 2)
        if ihl < IPV4_HLEN or ETH_HLEN + tot != len_ or rd16(f + ETH_HLEN + 6) & 0x3fff:
            return False
    if ihl + TCP_HLEN > tot:
        return False
    thl = (f[ETH_HLEN + ihl + 12] >> 4) * 4
    if thl < TCP_HLEN or ihl + thl > tot:
        return False
    hdr[0] = ETH_HLEN + ihl + thl
    return True


cdef inline uint32_t afp_tcp_payload(const uint8_t *f, uint32_t len_, uint32_t *hdr) noexcept nogil:
    """The TCP payload length of a frame afp_tcp_frame accepts, else 0."""
    if not afp_tcp_frame(f, len_, hdr):
        return 0
    return len_ - hdr[0]


cdef inline uint32_t afp_ip_hlen(const uint8_t *f) noexcept nogil:
    return IPV6_HLEN if rd16(f + 12) == ETH_P_IPV6 else (f[ETH_HLEN] & 0x0f) * 4


cdef inline void afp_tcp_pseudo_sum(uint8_t *f, uint32_t ihl, uint32_t l4len) noexcept nogil:
    """Checksum partial: the TCP checksum field holds the pseudo-header sum
    (uncomplemented); the kernel (or the device) adds the rest."""
    cdef uint8_t *ip = f + ETH_HLEN
    if rd16(f + 12) == ETH_P_IPV6:
        store_csum(ip + ihl + 16, <uint16_t>~nc_csum_fold(nc_csum_pseudo_ipv6(
            ip + 8, IP_PROTO_TCP, l4len)))
    else:
        store_csum(ip + ihl + 16, <uint16_t>~nc_csum_fold(nc_csum_pseudo_ipv4(
            ip + 12, IP_PROTO_TCP, <uint16_t>l4len)))


cdef bint afp_tx_csum_partial(uint8_t *f, uint32_t len_, lpk.virtio_net_hdr *vh) noexcept nogil:
    """A single TCP frame whose checksum the stack left out (NC_BUF_F_CSUM_OK
    on a port with NC_CAP_CSUM_TRUSTED): the pseudo-header sum goes into its
    checksum field (the same every time: a frame sent again stays right) and
    vh asks the kernel for the rest (NEEDS_CSUM from the TCP header). False
    for anything else, vh untouched: it goes out as it is."""
    cdef uint32_t hdr, ihl
    if not afp_tcp_frame(f, len_, &hdr):
        return False
    ihl = afp_ip_hlen(f)
    afp_tcp_pseudo_sum(f, ihl, len_ - ETH_HLEN - ihl)
    vh.flags = lpk.VIRTIO_NET_HDR_F_NEEDS_CSUM
    vh.gso_type = lpk.VIRTIO_NET_HDR_GSO_NONE
    vh.hdr_len = <uint16_t>hdr
    vh.gso_size = 0
    vh.csum_start = <uint16_t>(ETH_HLEN + ihl)
    vh.csum_offset = 16
    return True


cdef uint32_t afp_tso_run(AfpState *st, const uint32_t *bufs, uint32_t n, uint32_t room,
                          uint32_t *hdr_out, uint32_t *total_out,
                          uint8_t *last_flags_out) noexcept nogil:
    """How many of bufs, from bufs[0], merge into one TCP super-frame of at
    most room bytes (virtio-net header included): >= 2, or 0 when bufs[0]
    must go out on its own. hdr_out: the segments' header length;
    total_out: the super-frame's length; last_flags_out: its TCP flags.

    Segments continue the first when they are the same connection with the
    same headers but for IP length, id and checksum and TCP sequence, PSH and
    FIN (timestamps, window, ACK, SACK blocks all equal), their sequence
    follows on, and every one but the last carries exactly the first's
    payload (gso_size): then the kernel's segmentation (tcp_gso_segment)
    gives back exactly these segments, PSH and FIN on the last only. Only
    segments whose checksum the stack left to the port (NC_BUF_F_CSUM_OK)
    merge: one without the mark (a fault wrapper corrupted it) goes out
    alone, as it is."""
    cdef nc_buf *nb = nc_port_buf(&st.port, bufs[0])
    cdef const uint8_t *f = nc_buf_data(nb)
    cdef const uint8_t *g
    cdef uint32_t hdr, ghdr, mss, pay, total, m, ihl
    cdef uint32_t seq
    cdef uint8_t flags, gflags, last_flags
    cdef bint v6
    if n < 2 or not (nb.flags & NC_BUF_F_CSUM_OK) or nb.flags & NC_BUF_F_TX_REF:
        return 0
    mss = afp_tcp_payload(f, nb.len, &hdr)
    if mss == 0:
        return 0
    v6 = rd16(f + 12) == ETH_P_IPV6
    ihl = afp_ip_hlen(f)
    flags = f[ETH_HLEN + ihl + 13]
    if flags & ~(TCP_ACK | TCP_ECE):
        return 0                    # SYN, FIN, RST, URG, PSH, CWR: not a middle segment
    seq = rd32(f + ETH_HLEN + ihl + 4) + mss
    total = nb.len
    last_flags = flags
    m = 1
    while m < n and AFP_VNET_LEN + total + mss <= room and total - ETH_HLEN + mss <= 65535:
        nb = nc_port_buf(&st.port, bufs[m])
        if not (nb.flags & NC_BUF_F_CSUM_OK) or nb.flags & NC_BUF_F_TX_REF:
            break
        g = nc_buf_data(nb)
        pay = afp_tcp_payload(g, nb.len, &ghdr)
        if pay == 0 or pay > mss or ghdr != hdr:
            break
        gflags = g[ETH_HLEN + ihl + 13]
        if (gflags & ~(TCP_PSH | TCP_FIN)) != flags or rd32(g + ETH_HLEN + ihl + 4) != seq:
            break
        # IPv6: Ethernet + version..flow label; next header..addresses
        if v6 and (memcmp(f, g, ETH_HLEN + 4) != 0
                   or memcmp(f + ETH_HLEN + 6, g + ETH_HLEN + 6, IPV6_HLEN - 6) != 0):
            break
        # Ethernet + IP version..tos; IP flags..protocol; IP addresses and
        # options; TCP ports; ack + data offset; window; urgent + options
        if (not v6 and (memcmp(f, g, ETH_HLEN + 2) != 0
                or memcmp(f + ETH_HLEN + 6, g + ETH_HLEN + 6, 4) != 0
                or memcmp(f + ETH_HLEN + 12, g + ETH_HLEN + 12, ihl - 12) != 0)
                or memcmp(f + ETH_HLEN + ihl, g + ETH_HLEN + ihl, 4) != 0
                or memcmp(f + ETH_HLEN + ihl + 8, g + ETH_HLEN + ihl + 8, 5) != 0
                or memcmp(f + ETH_HLEN + ihl + 14, g + ETH_HLEN + ihl + 14, 2) != 0
                or memcmp(f + ETH_HLEN + ihl + 18, g + ETH_HLEN + ihl + 18,
                          hdr - ETH_HLEN - ihl - 18) != 0):
            break
        total += pay
        seq += pay
        last_flags = gflags
        m += 1
        if pay < mss or gflags & (TCP_PSH | TCP_FIN):
            break
    if m < 2:
        return 0
    hdr_out[0] = hdr
    total_out[0] = total
    last_flags_out[0] = last_flags
    return m


cdef void afp_tso_headers(uint8_t *out, uint32_t hdr, uint32_t total, uint32_t mss,
                          uint8_t last_flags) noexcept nogil:
    """Turn the first segment's headers (at out + AFP_VNET_LEN, hdr bytes:
    only those are read or written) into the super-frame's of total bytes,
    and write the virtio-net header before them: gso_type TCPV4/TCPV6,
    gso_size mss, NEEDS_CSUM from the TCP header, whose checksum field holds
    the pseudo-header sum of the whole super-frame."""
    cdef uint8_t *frame = out + AFP_VNET_LEN
    cdef uint8_t *ip = frame + ETH_HLEN
    cdef bint v6 = rd16(frame + 12) == ETH_P_IPV6
    cdef uint32_t ihl = afp_ip_hlen(frame)
    cdef lpk.virtio_net_hdr *vh = <lpk.virtio_net_hdr *>out
    ip[ihl + 13] = last_flags
    if v6:
        wr16(ip + 4, <uint16_t>(total - ETH_HLEN - IPV6_HLEN))
    else:
        wr16(ip + 2, <uint16_t>(total - ETH_HLEN))
        ip[10] = 0
        ip[11] = 0
        store_csum(ip + 10, nc_csum_fold(nc_csum_partial(ip, ihl, 0)))
    afp_tcp_pseudo_sum(frame, ihl, total - ETH_HLEN - ihl)
    vh.flags = lpk.VIRTIO_NET_HDR_F_NEEDS_CSUM
    vh.gso_type = lpk.VIRTIO_NET_HDR_GSO_TCPV6 if v6 else lpk.VIRTIO_NET_HDR_GSO_TCPV4
    vh.hdr_len = <uint16_t>hdr
    vh.gso_size = <uint16_t>mss
    vh.csum_start = <uint16_t>(ETH_HLEN + ihl)
    vh.csum_offset = 16


cdef uint32_t afp_tso_merge(AfpState *st, const uint32_t *bufs, uint32_t n, uint8_t *out,
                            uint32_t room, uint32_t *frame_len) noexcept nogil:
    """tx=ring: merge bufs[0] and the segments after it that continue it
    (afp_tso_run) into one super-frame copied to out (virtio-net header,
    then the frame). Returns how many buffers it took (>= 2), or 0 when
    bufs[0] must go out on its own."""
    cdef uint32_t hdr, total, m, i
    cdef uint8_t last_flags
    cdef nc_buf *nb
    cdef uint8_t *frame = out + AFP_VNET_LEN
    m = afp_tso_run(st, bufs, n, room, &hdr, &total, &last_flags)
    if m == 0:
        return 0
    # the frame: the first segment whole, then the others' payloads
    nb = nc_port_buf(&st.port, bufs[0])
    memcpy(frame, nc_buf_data(nb), nb.len)
    total = nb.len
    for i in range(1, m):
        nb = nc_port_buf(&st.port, bufs[i])
        memcpy(frame + total, nc_buf_data(nb) + hdr, nb.len - hdr)
        total += nb.len - hdr
    nb = nc_port_buf(&st.port, bufs[0])
    afp_tso_headers(out, hdr, total, nb.len - hdr, last_flags)
    frame_len[0] = total
    st.x.tx_tso_frames += 1
    st.x.tx_tso_segments += m
    return m


cdef inline uint32_t afp_tx_ref_segments(const nc_buf *nb) noexcept nogil:
    """The segments a super-frame by reference (NC_BUF_F_TX_REF) becomes."""
    return <uint32_t>((nb.user[1] + nb.user[2] - 1) // nb.user[2])


cdef void afp_tx_ref_headers(uint8_t *out, const nc_buf *nb) noexcept nogil:
    """The virtio-net header and headers of TCP's super-frame by reference
    (NC_BUF_F_TX_REF: the buffer holds the first segment's headers, the
    payload is user[1] bytes elsewhere, user[2] per segment) into out,
    as afp_tso_headers writes a merged run's: gso_type TCPV4/TCPV6,
    gso_size, NEEDS_CSUM. One segment's worth goes without GSO."""
    cdef uint8_t *frame = out + AFP_VNET_LEN
    cdef lpk.virtio_net_hdr *vh = <lpk.virtio_net_hdr *>out
    memcpy(frame, nc_buf_data(nb), nb.len)
    afp_tso_headers(out, nb.len, nb.len + <uint32_t>nb.user[1], <uint32_t>nb.user[2],
                    frame[ETH_HLEN + afp_ip_hlen(frame) + 13])
    if nb.user[1] <= nb.user[2]:
        vh.gso_type = lpk.VIRTIO_NET_HDR_GSO_NONE
        vh.gso_size = 0
