# The stack's C-level state: every structure the poll loop touches, with no
# Python object anywhere below StackState. The Python API (api/stack.pxi) owns one
# StackState and reads it; only functions that take `StackState *` change it.

cdef enum:
    BURST = 32                  # rx/tx burst size
    RX_ROUNDS = 4               # rx bursts per poll before the channels are drained
    CHAN_SIZE = 128             # a leased channel: holds a whole poll's frames (RX_ROUNDS x BURST)
    CHAN_POOL = 128             # channels per stack: one per connection a poll can touch (RX_ROUNDS x BURST); <= 255 (Tcb.chan is a byte)
    TXQ_MAX = 64                # frames batched before a tx_burst
    PORT_SPACE = 65536
    EPHEMERAL_LO = 49152
    EPHEMERAL_HI = 65535

# ---- the stack ------------------------------------------------------------------

cdef struct StackConfig:
    uint32_t max_conns
    uint32_t rcvbuf             # per-connection receive window bytes (power of two)
    uint32_t sndbuf             # per-connection send buffer bytes (power of two)
    uint32_t chan_size          # slots of each leased channel
    uint32_t listen_chan_size
    uint32_t udp_chan_size
    uint64_t msl_ns             # TIME_WAIT lasts 2 x msl
    uint64_t rto_init_ns
    uint64_t rto_min_ns
    uint64_t rto_max_ns
    uint32_t max_retries        # RTOs on data before the connection is dropped
    uint32_t syn_retries
    uint64_t delack_ns
    uint64_t arp_timeout_ns
    uint64_t arp_retry_ns
    uint32_t arp_max_tries
    bint timestamps
    bint sack
    bint window_scaling
    bint nodelay                # default for new connections (Nagle off)
    uint8_t ttl
    uint8_t cc                  # default congestion control
    uint8_t recovery            # RECOVERY_RFC6675 / RECOVERY_RACK (tcp/rack.pxi)
    bint ecn                    # offer / accept ECN (RFC 3168, tcp/ecn.pxi)
    bint hystart                # HyStart++ in CUBIC's first slow start (tcp/hystart.pxi)
    uint8_t keep_cnt            # default keepalive (0 = off)
    uint64_t keep_idle_ns
    uint64_t keep_intvl_ns
    uint32_t challenge_ack_limit    # RFC 5961 challenge ACKs per second (stack-wide)
    bint syncookies             # answer with SYN cookies when a backlog is full
    uint64_t frag_timeout_ns    # IPv4 reassembly: give up on a datagram after this
    uint32_t frag_max_datagrams
    uint32_t frag_max_bytes
    uint32_t max_time_wait      # TIME_WAIT records kept (the oldest recycled beyond)


cdef struct StackState:
    nc_port *port
    uint8_t mac[6]
    uint32_t ip                 # the first IPv4 address (0: IPv6 only); all of them in v4
    uint32_t netmask
    Ip4State v4
    uint32_t mtu                # IP MTU of the port
    StackConfig cfg
    uint64_t now
    uint64_t *ctr               # [C_COUNT], indexed by Ctr; lives in the stats segment
    uint64_t *wire_err          # [WIRE_ERROR_COUNT], indexed by WireError; same segment
    # transmit batch
    uint32_t txq[TXQ_MAX]
    uint32_t txq_len
    uint32_t txq_refs           # frames in txq whose payload is a send window's (NC_BUF_F_TX_REF)
    # ARP
    ArpEntry arp[ARP_TABLE_SIZE]
    uint32_t arp_gen            # bumped whenever a mapping changes
    uint64_t arp_next_scan
    uint8_t conflict_mac[6]     # the last host seen claiming our address
    # IPv6: our addresses and the neighbour cache (iface/ndp.pxi)
    Ip6State v6
    Ip6Peer *peers6             # remote IPv6 addresses, interned (iface/ip6peers.pxi)
    uint32_t peers6_mask
    # connections
    Tcb *tcbs
    uint32_t *tcb_free
    uint32_t tcb_nfree
    uint32_t n_conns
    uint8_t *chan_mem           # CHAN_POOL channels, leased for one poll (iface/classify.pxi)
    size_t chan_stride
    FlowSlot *flows
    uint32_t flow_mask
    uint32_t *active            # connections holding a channel this poll: active[k] leases channel k
    uint32_t nactive
    uint32_t *outq              # connections with output to consider this poll
    uint32_t noutq
    # TIME_WAIT records (tcp/timewait.pxi): a bounded table, an index by
    # 4-tuple, a list in order of expiry and a free list
    TwRecord *tw
    TwSlot *tw_index
    uint32_t tw_mask
    uint32_t tw_max
    uint32_t tw_n
    uint32_t tw_fresh           # records [tw_fresh, tw_max) never used yet
    uint32_t tw_free
    uint32_t tw_head            # the oldest (first to expire)
    uint32_t tw_tail
    # timers (hashed wheel over Tcb ids)
    uint32_t *wheel
    uint64_t *wheel_busy         # one bit per slot: its list is not empty
    uint32_t wheel_mask
    uint64_t tick_ns
    uint64_t cur_tick
    # listeners and UDP sockets, found by port
    Listener *listeners
    uint32_t max_listeners
    int32_t *listen_by_port
    UdpSock *udps
    uint32_t max_udp
    int32_t *udp_by_port
    int32_t *listen_active      # listener ids with a non-empty channel this poll
    uint32_t nlisten_active
    # windows
    Arena rcv_arena
    Arena snd_arena
    # send windows read in place across a shm link (mem/peer_windows.pxi,
    # iface/shared_windows.pxi)
    WindowBoard *board_me        # in the link's header; NULL: not sharing
    WindowBoard *board_peer
    uint64_t board_key           # what we published: our pid << 32 | epoch
    PeerWindows peer_wins[PEER_WINDOW_SETS]     # the peer's send arena mapped here
    uint8_t peer_win_cur         # peer_wins[peer_win_cur] is the live peer's
    uint64_t peer_win_failed     # the peer arena (key) that could not be mapped: not tried again
    # identity
    uint64_t isn_key0
    uint64_t isn_key1
    uint16_t ip_ident
    uint32_t ip6_ident          # fragments' identification (keyed on use)
    uint32_t eph_next
    # IPv4 reassembly (ip/frag.pxi) and ICMP errors
    FragDatagram *frags         # [nfrags], 64 KiB each, allocated when the stack starts
    uint32_t nfrags
    uint32_t frag_active
    uint32_t frag_bytes
    uint64_t udp_seq            # arrival order of UDP datagrams (channel vs reassembled)
    RateLimit icmp_rate         # ICMP errors sent (ip/icmp.pxi)
    uint8_t *scratch            # 64 KiB: a UDP datagram too large for one frame
    # RFC 5961 challenge-ACK rate limit
    RateLimit challenge_rate
    # SYN cookies: the secret and the 64-second counter they are tied to
    uint64_t cookie_key0
    uint64_t cookie_key1
    # work done by the last poll (frames in + frames out + timers fired)
    uint32_t progress
    uint64_t peer_lost_seen     # the port chain's peer_lost already handled
    # the stats segment: port counters are copied there now and then
    uint64_t stats_next_copy
    nc_port_stats *stats_ports  # [4]: the port chain, outermost first

cdef StackState *stack_state_alloc(uint32_t max_conns, uint32_t frag_datagrams,
                                   uint32_t max_time_wait) noexcept nogil
cdef void stack_state_keys(StackState *st, uint64_t isn0, uint64_t isn1, uint64_t cookie0,
                           uint64_t cookie1) noexcept nogil
cdef void stack_state_channels(StackState *st, uint8_t *mem) noexcept nogil
cdef nc_ring *stack_chan_at(StackState *st, uint32_t k) noexcept nogil
cdef int stack_state_arenas(StackState *st, uint32_t rcvbuf, uint32_t sndbuf) noexcept nogil
cdef void stack_state_start(StackState *st, uint64_t now) noexcept nogil
cdef void stack_set_now(StackState *st, uint64_t now) noexcept nogil
cdef void stack_state_free(StackState *st) noexcept nogil
