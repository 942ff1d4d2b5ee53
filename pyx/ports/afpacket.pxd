# The AF_PACKET port's state, shared by its pieces: afpacket_rx.pxi (the rx
# ring, TPACKET_V2 or V3), afpacket_tx.pxi (the tx ring and the vtable),
# afpacket_offload.pxi (GSO super-frames cut on receive, TSO super-frames
# built on send) and afpacket.pxi (opening, the Python class).

cdef enum:
    AFP_TX_DATA_OFF_V2 = 32     # TPACKET_ALIGN(sizeof(tpacket2_hdr)): tx frame data starts here
    AFP_TX_DATA_OFF_V3 = 48     # TPACKET_ALIGN(sizeof(tpacket3_hdr))
    AFP_VNET_LEN = 10           # sizeof(virtio_net_hdr)
    AFP_GSO_UDP_L4 = 5          # VIRTIO_NET_HDR_GSO_UDP_L4 (Linux 4.18); older headers lack it
    AFP_TSO_SLOT = 65536        # tx slot size with TSO: one super-frame of up to 64 KiB
    AFP_GRO_ROOM = 65600        # data room of a GRO buffer: Ethernet + a 64 KiB IP packet
    # v2 frames handed over in place (rx_zc): PACKET_RESERVE puts AFP_ZC_RESERVE
    # bytes between the kernel's header (tpacket2_hdr + sockaddr_ll, 52 bytes)
    # and the frame; the nc_buf header lives there, AFP_ZC_HDR_OFF into the
    # frame, and the Ethernet header starts at AFP_ZC_MAC_OFF (the kernel's
    # macoff for SOCK_RAW with a virtio-net header and a 14-byte MAC header:
    # TPACKET_ALIGN(52 + 16) + reserve + 10 - 14)
    AFP_ZC_RESERVE = 64
    AFP_ZC_HDR_OFF = 64
    AFP_ZC_MAC_OFF = 140
    # tx=sendmmsg: one sendmmsg() per burst of at most AFP_MMSG_MAX frames,
    # gathered from AFP_IOV_MAX iovecs; each frame's virtio-net header (and a
    # super-frame's rewritten headers) in its own AFP_MMSG_HDR-byte scratch
    AFP_MMSG_MAX = 64
    AFP_IOV_MAX = 160
    AFP_MMSG_HDR = 160          # vnet 10 + Ethernet 14 + IP <= 60 + TCP <= 60
    AFP_MMSG_SNDBUF = 16 << 20  # SO_SNDBUF: a few bursts of 64 KiB super-frames in flight

cdef struct AfpExtra:
    uint64_t rx_blocks          # V3 ring blocks consumed
    uint64_t rx_truncated       # frame longer than a ring frame/block (tp_snaplen < tp_len)
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
    uint64_t tx_tso_frames      # TSO super-frames sent
    uint64_t tx_tso_segments    # segments merged into them
    uint64_t ring_drops         # frames the kernel dropped: rx ring full (PACKET_STATISTICS)
    uint64_t rx_gro_superframes # TCP super-frames handed to the stack whole (one GRO buffer each)
    uint64_t rx_gro_no_buffer   # ... cut into segments instead: no GRO buffer was free
    uint64_t rx_vnet_bad        # virtio-net header inconsistent with its frame: dropped
    uint64_t tx_csum_offloaded  # single TCP frames sent with a partial checksum (NEEDS_CSUM)
    uint64_t tx_busy            # tx=sendmmsg: the kernel took part of a burst or none
                                # (EAGAIN/ENOBUFS); the rest stayed with the stack

cdef struct AfpState:
    nc_port port                # first: an nc_port* is an AfpState*
    int fd
    int ifindex
    char ifname[16]
    uint32_t version            # 2 (TPACKET_V2: per-frame rx ring) or 3 (blocks)
    uint8_t *ring               # rx blocks, then tx frames, one mapping
    size_t ring_size
    uint32_t vnet_len           # AFP_VNET_LEN with PACKET_VNET_HDR, else 0
    # rx, both versions: blocks of rx_block_size bytes
    uint32_t rx_block_size
    uint32_t rx_block_nr
    uint32_t rx_cur             # V3: next block to look at; V2: next frame
    uint32_t gso_off            # payload already cut from the super-frame being read
    # rx, V3
    lpk.tpacket_block_desc *rx_bd   # block being consumed, or NULL
    uint8_t *rx_pkt             # its next frame
    uint32_t rx_left            # frames left in it
    # rx, V2: frames of rx_frame_size, rx_fpb to a block
    uint32_t rx_frame_size
    uint32_t rx_frame_nr
    uint32_t rx_fpb
    # tx
    uint8_t *tx_base
    uint32_t tx_data_off        # where a slot's frame (its vnet header first) starts
    uint32_t tx_frame_size
    uint32_t tx_frame_nr
    uint32_t tx_head
    bint tso                    # send TCP super-frames (the interface has TSO and csum on)
    bint tx_csum                # the kernel fills in TCP checksums (NC_CAP_CSUM_TRUSTED)
    bint tx_mmsg                # tx=sendmmsg: no tx ring, frames gathered from the buffers
    lpk.mmsghdr mmsg[AFP_MMSG_MAX]
    lpk.iovec iov[AFP_IOV_MAX]
    uint32_t mmsg_bufs[AFP_MMSG_MAX]    # buffers each message carries
    uint8_t mmsg_hdr[AFP_MMSG_MAX][AFP_MMSG_HDR]
    # the port's own pools: MTU-sized (pools[0]) and, for whole TCP
    # super-frames, 64 KiB GRO buffers (pools[1], gro_fs NULL when gro_bufs=0)
    nc_freestack *fs
    nc_freestack *gro_fs
    # v2 only, instead of GRO buffers: pools[1] is the rx ring itself, and a
    # TCP super-frame goes to the stack in its ring frame, given back to the
    # kernel when the stack frees it
    bint rx_zc
    uint32_t rx_zc_frame        # the ring frame being read (NC_BUF_NONE: not in place)
    bint rx_zc_kept             # ... handed over in place: do not give it back yet
    uint32_t zc_held            # ring frames the stack holds
    AfpExtra x

cdef bint afp_rx_ready(AfpState *st) noexcept nogil
cdef int afp_rx_gso(AfpState *st, uint8_t *data, uint32_t snap, uint8_t gso_type,
                    uint32_t mss, bint trusted, uint32_t *bufs, uint32_t *k, uint32_t n,
                    uint64_t now) noexcept nogil
cdef uint32_t afp_alloc_one(AfpState *st) noexcept nogil
cdef void afp_free_bufs(AfpState *st, const uint32_t *bufs, uint32_t n) noexcept nogil
cdef int afp_rx_whole(AfpState *st, uint8_t *data, uint32_t snap, uint8_t gso_type,
                      bint trusted, uint32_t *bufs, uint32_t *k, uint32_t n,
                      uint64_t now) noexcept nogil
cdef void afp_deliver(AfpState *st, uint32_t b, uint32_t *bufs, uint32_t *k,
                      uint64_t now) noexcept nogil
cdef uint32_t afp_tso_merge(AfpState *st, const uint32_t *bufs, uint32_t n, uint8_t *out,
                            uint32_t room, uint32_t *frame_len) noexcept nogil
cdef uint32_t afp_tso_run(AfpState *st, const uint32_t *bufs, uint32_t n, uint32_t room,
                          uint32_t *hdr_out, uint32_t *total_out,
                          uint8_t *last_flags_out) noexcept nogil
cdef void afp_tso_headers(uint8_t *out, uint32_t hdr, uint32_t total, uint32_t mss,
                          uint8_t last_flags) noexcept nogil
cdef uint32_t afp_tx_ref_segments(const nc_buf *nb) noexcept nogil
cdef void afp_tx_ref_headers(uint8_t *out, const nc_buf *nb) noexcept nogil
cdef uint32_t afp_tx_burst_mmsg(AfpState *st, uint32_t *bufs, uint32_t n) noexcept nogil
cdef bint afp_tx_csum_partial(uint8_t *f, uint32_t len_, lpk.virtio_net_hdr *vh) noexcept nogil
cdef void afp_close(nc_port *p) noexcept nogil
cdef int afp_link_up(nc_port *p) noexcept nogil
