
cdef struct LinkSide:
    uint32_t attached
    int32_t pid
    uint8_t mac[8]
    uint32_t doorbell
    uint32_t sleeping
    uint64_t freestack_off
    uint64_t txring_off
    uint64_t retring_off
    uint64_t slots_off
    uint64_t _pad[7]


cdef struct LinkHeader:
    uint32_t magic
    uint32_t version
    uint32_t mtu
    uint32_t nbufs
    uint32_t stride
    uint32_t data_room
    uint32_t txring_size
    uint32_t retring_size
    uint64_t total_size
    uint64_t _pad[4]
    LinkSide side[2]


cdef struct LinkPortState:
    nc_port port                 # first: an nc_port* is a LinkPortState*
    LinkHeader *hdr
    int side
    nc_freestack *fs             # own pool's free stack
    nc_ring *tx                  # own tx ring (we produce)
    nc_ring *rx                  # peer's tx ring (we consume)
    nc_ring *ret_own             # returns of our buffers (we consume)
    nc_ring *ret_peer            # returns of the peer's buffers (we produce)
    LinkSide *me
    LinkSide *peer
    bint shared                  # across processes: the peer may die
    uint64_t peer_checked_ns     # last time the peer's pid was checked

cdef uint32_t next_pow2(uint32_t x) noexcept nogil

cdef size_t link_layout(LinkHeader *h, uint32_t mtu, uint32_t nbufs) noexcept nogil

cdef void link_format(uint8_t *base, uint32_t mtu, uint32_t nbufs, const uint8_t *mac0,
                      const uint8_t *mac1) noexcept nogil

cdef long futex_wait(uint32_t *addr, uint32_t expected, uint64_t timeout_ns) noexcept nogil

cdef long futex_wake(uint32_t *addr) noexcept nogil

cdef uint32_t link_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t link_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t link_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil

cdef void link_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil

cdef uint64_t link_next_deadline(nc_port *p) noexcept nogil

cdef void link_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil

cdef int link_link_up(nc_port *p) noexcept nogil

cdef void link_close(nc_port *p) noexcept nogil

cdef class LinkPort(Port):
    cdef LinkPortState *lp
    cdef MappedRegion region
    cdef readonly str name
    cdef readonly int side
    cdef readonly bint shared
    cdef object lock_path
    cdef _bind(self, MappedRegion region, int side, bint shared)
