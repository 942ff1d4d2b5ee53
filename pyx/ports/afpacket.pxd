
cdef enum:
    AFP_TX_DATA_OFF = 48        # TPACKET_ALIGN(sizeof(tpacket3_hdr)): tx frame data starts here
    AFP_VNET_LEN = 10           # sizeof(virtio_net_hdr)
    AFP_GSO_UDP_L4 = 5          # VIRTIO_NET_HDR_GSO_UDP_L4 (Linux 4.18); older headers lack it


cdef struct AfpExtra:
    uint64_t rx_blocks          # ring blocks consumed
    uint64_t rx_truncated       # frame longer than a ring block (tp_snaplen < tp_len)
    uint64_t rx_oversize        # frame (or GSO segment) larger than a buffer, no GSO info
    uint64_t rx_gso_frames      # super-frames cut into segments
    uint64_t rx_gso_segments    # segments made from them
    uint64_t rx_gso_bad         # super-frames whose headers did not parse
    uint64_t rx_gso_unsupported # GSO kinds not segmented here (IPv6, ...)
    uint64_t rx_csum_partial    # frames with a partial checksum, trusted
    uint64_t rx_csum_valid      # frames the kernel had verified
    uint64_t rx_no_buffer       # rx stopped: the pool was empty
    uint64_t tx_ring_full       # tx stopped: no free slot in the ring
    uint64_t tx_oversize        # frame larger than a tx slot, dropped
    uint64_t tx_kicks           # sendto() calls
    uint64_t tx_kick_errors     # sendto() failures other than EAGAIN/ENOBUFS
    uint64_t ring_drops         # frames the kernel dropped: rx ring full (PACKET_STATISTICS)


cdef struct AfpState:
    nc_port port                # first: an nc_port* is an AfpState*
    int fd
    int ifindex
    char ifname[16]
    uint8_t *ring               # rx blocks, then tx frames, one mapping
    size_t ring_size
    uint32_t vnet_len           # AFP_VNET_LEN with PACKET_VNET_HDR, else 0
    # rx
    uint32_t rx_block_size
    uint32_t rx_block_nr
    uint32_t rx_cur             # next block to look at
    lpk.tpacket_block_desc *rx_bd   # block being consumed, or NULL
    uint8_t *rx_pkt             # its next frame
    uint32_t rx_left            # frames left in it
    uint32_t gso_off            # payload already cut from the super-frame at rx_pkt
    # tx
    uint8_t *tx_base
    uint32_t tx_frame_size
    uint32_t tx_frame_nr
    uint32_t tx_head
    # the port's own pool
    nc_freestack *fs
    AfpExtra x

cdef lpk.tpacket_block_desc *afp_block(AfpState *st, uint32_t i) noexcept nogil

cdef uint32_t afp_alloc_one(AfpState *st) noexcept nogil

cdef void afp_deliver(AfpState *st, uint32_t b, uint32_t *bufs, uint32_t *k,
                             uint64_t now) noexcept nogil

cdef void afp_count_csum(AfpState *st, bint partial, bint valid) noexcept nogil

cdef int afp_rx_gso(AfpState *st, uint8_t *data, uint32_t snap, uint8_t gso_type,
                    uint32_t mss, bint trusted, uint32_t *bufs, uint32_t *k, uint32_t n,
                    uint64_t now) noexcept nogil

cdef int afp_rx_frame(AfpState *st, lpk.tpacket3_hdr *h, uint32_t *bufs, uint32_t *k,
                      uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t afp_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef void afp_kick(AfpState *st) noexcept nogil

cdef uint32_t afp_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t afp_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil

cdef void afp_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil

cdef uint64_t afp_next_deadline(nc_port *p) noexcept nogil

cdef void afp_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil

cdef int afp_if_flags(AfpState *st) noexcept nogil

cdef int afp_link_up(nc_port *p) noexcept nogil

cdef void afp_close(nc_port *p) noexcept nogil

cdef class AfPacketPort(Port):
    cdef AfpState *st
    cdef MappedRegion pool_region
    cdef readonly str iface
    cdef readonly str interface_mac
    cdef readonly dict geometry
    cdef uint64_t ring_drops_seen
    cdef _read_ring_stats(self)
