# C declarations of include/netchan/*.h, for cimport by the core.
# Logic lives in the .pxi files; this file only says what the C side offers.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "netchan/compat.h" nogil:
    int NC_CACHE_LINE
    bint nc_likely(bint)
    bint nc_unlikely(bint)
    void nc_cpu_relax()
    int nc_is_pow2(uint32_t x)
    uint32_t nc_ctz64(uint64_t x)
    void nc_fence_seq_cst()
    # typed wrappers are declared with the types the core uses them on
    uint32_t nc_load_acquire_u32 "nc_load_acquire"(uint32_t *p)
    void nc_store_release_u32 "nc_store_release"(uint32_t *p, uint32_t v)
    uint32_t nc_load_relaxed_u32 "nc_load_relaxed"(uint32_t *p)
    void nc_store_relaxed_u32 "nc_store_relaxed"(uint32_t *p, uint32_t v)
    uint64_t nc_load_relaxed_u64 "nc_load_relaxed"(uint64_t *p)
    void nc_store_relaxed_u64 "nc_store_relaxed"(uint64_t *p, uint64_t v)
    uint64_t nc_load_acquire_u64 "nc_load_acquire"(uint64_t *p)
    void nc_store_release_u64 "nc_store_release"(uint64_t *p, uint64_t v)


cdef extern from "netchan/ring.h" nogil:
    uint32_t NC_RING_MAX_SIZE
    uint32_t NC_RING_MAGIC
    struct nc_ring:
        uint32_t size
        uint32_t mask
        uint32_t magic
        uint32_t prod_tail
        uint32_t prod_seen
        uint32_t cons_head
        uint32_t cons_seen
    size_t nc_ring_memsize(uint32_t size)
    uint32_t *nc_ring_slots(nc_ring *r)
    int nc_ring_init(nc_ring *r, uint32_t size)
    int nc_ring_published(const nc_ring *r)
    uint32_t nc_ring_enqueue_burst(nc_ring *r, const uint32_t *objs, uint32_t n)
    uint32_t nc_ring_enqueue_bulk(nc_ring *r, const uint32_t *objs, uint32_t n)
    uint32_t nc_ring_enqueue(nc_ring *r, uint32_t obj)
    uint32_t nc_ring_dequeue_burst(nc_ring *r, uint32_t *objs, uint32_t n)
    uint32_t nc_ring_dequeue_bulk(nc_ring *r, uint32_t *objs, uint32_t n)
    uint32_t nc_ring_dequeue(nc_ring *r, uint32_t *obj)
    uint32_t nc_ring_peek_burst(nc_ring *r, uint32_t *objs, uint32_t n)
    uint32_t nc_ring_peek(nc_ring *r, uint32_t i, uint32_t *obj)
    uint32_t nc_ring_consume(nc_ring *r, uint32_t n)
    uint32_t nc_ring_count(const nc_ring *r)
    uint32_t nc_ring_free_count(const nc_ring *r)
    int nc_ring_empty(const nc_ring *r)


cdef extern from "netchan/buf.h" nogil:
    uint32_t NC_BUF_POOL_BIT
    uint32_t NC_BUF_SLOT_MASK
    uint32_t NC_BUF_NONE
    uint32_t NC_BUF_HEADROOM
    uint32_t NC_BUF_F_CSUM_OK
    uint32_t NC_BUF_F_TX_REF
    uint32_t NC_BUF_F_PAYLOAD_REF
    uint32_t NC_BUF_F_FREE
    struct nc_buf:
        uint32_t slot
        uint32_t data_off
        uint32_t len
        uint32_t room
        uint32_t flags
        uint32_t next
        uint64_t stamp
        uint64_t user[4]
    struct nc_pool:
        uint8_t *base
        uint32_t stride
        uint32_t hdr_off
        uint32_t count
        uint32_t data_room
    nc_buf *nc_pool_buf(const nc_pool *p, uint32_t slot)
    uint8_t *nc_buf_data(nc_buf *b)
    void nc_buf_reset(nc_buf *b)
    uint64_t nc_buf_frame_bytes(const nc_buf *b)
    uint32_t nc_buf_tailroom(const nc_buf *b)
    struct nc_freestack:
        uint32_t count
        uint32_t cap
    uint32_t *nc_freestack_slots(nc_freestack *s)
    size_t nc_freestack_memsize(uint32_t cap)
    void nc_freestack_init_full(nc_freestack *s, uint32_t cap)
    uint32_t nc_freestack_pop_burst(nc_freestack *s, uint32_t *out, uint32_t n)
    uint32_t nc_freestack_push_burst(nc_freestack *s, const uint32_t *inp, uint32_t n)
    uint32_t nc_pool_stride_for(uint32_t data_room)
    void nc_pool_format(const nc_pool *p)
    uint32_t nc_pool_alloc_burst(const nc_pool *p, nc_freestack *fs, uint32_t *out, uint32_t n, uint32_t pool_bit)
    uint32_t nc_pool_free_burst(const nc_pool *p, nc_freestack *fs, const uint32_t *inp, uint32_t n)


cdef extern from "netchan/csum.h" nogil:
    uint64_t nc_csum_partial(const void *data, size_t len, uint64_t sum)
    uint16_t nc_csum_fold(uint64_t sum)
    uint64_t nc_csum_pseudo_ipv4(const uint8_t *src_dst8, uint8_t proto, uint16_t l4_len)
    uint64_t nc_csum_pseudo_ipv6(const uint8_t *src_dst32, uint8_t proto, uint32_t l4_len)


cdef extern from "netchan/port.h" nogil:
    uint32_t NC_CAP_SLEEP
    uint32_t NC_CAP_VIRTUAL_TIME
    uint32_t NC_CAP_PEER_HOST
    uint32_t NC_CAP_CSUM_TRUSTED
    uint32_t NC_CAP_TX_REF
    uint64_t NC_PEER_LOST_NO_STACK
    struct nc_port
    struct nc_port_ops:
        uint32_t (*rx_burst)(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil
        uint32_t (*tx_burst)(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil
        uint32_t (*alloc_burst)(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil
        void (*free_burst)(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil
        uint64_t (*next_deadline)(nc_port *p) noexcept nogil
        void (*wait)(nc_port *p, uint64_t timeout_ns) noexcept nogil
        int (*link_up)(nc_port *p) noexcept nogil
        void (*close)(nc_port *p) noexcept nogil
    # Written in port.h once (the NC_PORT_STATS list); Cython needs the
    # names it uses. tests/ports/test_port_header.py fails on any drift.
    struct nc_port_stats:
        uint64_t rx_packets, rx_bytes
        uint64_t tx_packets, tx_bytes
        uint64_t rx_dropped
        uint64_t tx_dropped
        uint64_t alloc_failed
        uint64_t double_free
        uint64_t peer_lost
        uint64_t fault_lost, fault_duplicated, fault_reordered, fault_corrupted, fault_delayed
        uint64_t pcap_written, pcap_errors
    size_t NC_PORT_STAT_COUNT
    const char *nc_port_stat_name(uint32_t i)
    struct nc_port:
        const nc_port_ops *ops
        nc_pool pools[2]
        uint8_t mac[6]
        uint32_t mtu
        uint32_t caps
        nc_port_stats stats
        nc_port *inner
        void *impl
        uint64_t peer_lost_handled
    nc_buf *nc_port_buf(const nc_port *p, uint32_t idx)
