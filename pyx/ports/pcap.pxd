
cdef struct PcapPortState:
    nc_port port
    nc_port *inner
    FILE *f
    int64_t offset_ns        # added to the stack clock to get wall time
    bint offset_set
    int64_t wall_at_open


cdef struct PcapRecordHeader:
    uint32_t ts_sec
    uint32_t ts_nsec
    uint32_t incl_len
    uint32_t orig_len

cdef void pcap_write(PcapPortState *pp, const uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t pcap_rx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t pcap_tx_burst(nc_port *p, uint32_t *bufs, uint32_t n, uint64_t now) noexcept nogil

cdef uint32_t pcap_alloc_burst(nc_port *p, uint32_t *bufs, uint32_t n) noexcept nogil

cdef void pcap_free_burst(nc_port *p, const uint32_t *bufs, uint32_t n) noexcept nogil

cdef uint64_t pcap_next_deadline(nc_port *p) noexcept nogil

cdef void pcap_wait(nc_port *p, uint64_t timeout_ns) noexcept nogil

cdef int pcap_link_up(nc_port *p) noexcept nogil

cdef void pcap_close(nc_port *p) noexcept nogil

cdef class PcapPort(Port):
    cdef PcapPortState *pp
    cdef readonly str path
