cdef enum:
    UDP_BIG_MAX = 16            # reassembled datagrams waiting per UDP socket

cdef struct BigDgram:           # a reassembled UDP datagram waiting for recvfrom
    uint8_t *data
    uint32_t len
    uint32_t src                # IPv4; 0: IPv6, the source is src6
    uint8_t src6[16]
    uint16_t sport
    uint64_t seq                # arrival order against the socket's channel

cdef struct UdpSock:
    bint active
    uint16_t port
    uint32_t bind_ip            # 0 = any of ours (IPv4: the source of what it sends)
    bint dont_frag              # EMSGSIZE rather than fragments (IP_PMTUDISC_DO / IPV6_DONTFRAG)
    nc_ring *chan               # received datagrams (buffer indices), bounded
    uint64_t drops
    BigDgram *big               # [UDP_BIG_MAX] reassembled datagrams, allocated on first use
    uint32_t big_head
    uint32_t big_len

cdef int udp_send(StackState *st, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                  const uint8_t *data, uint32_t n, bint dont_frag) noexcept nogil

cdef void udp_queue_big(StackState *st, UdpSock *u, uint32_t src, const UdpHdr *udp) noexcept nogil
cdef void udp_queue_big6(StackState *st, UdpSock *u, const uint8_t *src6,
                         const UdpHdr *udp) noexcept nogil
cdef void udp_free_big(UdpSock *u) noexcept nogil
