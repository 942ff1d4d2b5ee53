cdef enum:
    FAULT_TX = 0
    FAULT_RX = 1
    FAULT_MAX_BURST = 64


cdef struct FaultDir:
    bint enabled
    uint64_t rng
    uint64_t loss            # probabilities scaled to 2^32
    uint64_t dup
    uint64_t reorder
    uint64_t corrupt
    uint64_t delay_ns
    uint64_t hold_ns         # longest a reordered frame waits for a successor
    uint32_t q_head          # delay line (and overflow) FIFO, linked by nc_buf.next
    uint32_t q_tail
    uint32_t q_len
    uint32_t held            # the frame held back for reordering, or NC_BUF_NONE
    uint64_t held_until


cdef struct FaultPortState:
    nc_port port
    nc_port *inner
    FaultDir dirs[2]

cdef uint64_t splitmix64(uint64_t *state) noexcept nogil

cdef bint fault_roll(FaultDir *d, uint64_t p32) noexcept nogil

cdef uint32_t fault_dup(FaultPortState *fp, uint32_t idx) noexcept nogil

cdef uint32_t fault_own_copy(FaultPortState *fp, uint32_t idx) noexcept nogil

cdef void fault_q_push(FaultPortState *fp, FaultDir *d, uint32_t idx, uint64_t due) noexcept nogil

cdef uint32_t fault_q_pop_due(FaultPortState *fp, FaultDir *d, uint64_t now) noexcept nogil

cdef void fault_emit(FaultPortState *fp, FaultDir *d, uint32_t idx, uint32_t *out,
                            uint32_t *nout, uint32_t cap, uint64_t now) noexcept nogil

cdef void fault_release_due(FaultPortState *fp, FaultDir *d, uint32_t *out, uint32_t *nout,
                            uint32_t cap, uint64_t now) noexcept nogil

cdef void fault_process(FaultPortState *fp, FaultDir *d, uint32_t idx, uint32_t *out,
                        uint32_t *nout, uint32_t cap, uint64_t now) noexcept nogil

cdef uint32_t fault_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t fault_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t fault_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil

cdef void fault_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil

cdef uint64_t fault_next_deadline(nc_port *p) noexcept nogil

cdef void fault_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil

cdef int fault_link_up(nc_port *p) noexcept nogil

cdef void fault_flush_tx(FaultPortState *fp, uint64_t now) noexcept nogil

cdef void fault_close(nc_port *p) noexcept nogil

cdef class FaultPort(Port):
    cdef FaultPortState *fp
    cdef readonly dict params
